//! The alert steps of the browser walk-through (see `browser.rs`).

use super::*;

/// As the admin: a threshold rule made in the builder, previewed over the stored hour,
/// saved; then a point that crosses it, seen in the history, the active alerts, the task's
/// stats and as an annotation on the host's charts.
pub(super) async fn alert_walkthrough(ui: &Ui) {
    ui.goto("/alerts/rules").await;
    ui.wait_for("main h1").await;
    assert!(ui.text().await.contains("No rules yet"));
    ui.click("a[href='/alerts/rules/new']").await;
    ui.fill("#rule-form input[name=id]", "e2e-cpu").await;
    ui.fill("#rule-form input[name=measurement]", "cpu").await;
    // The pickers fill from SHOW FIELD KEYS / TAG KEYS once the measurement is known.
    ui.click("button[value=refresh]").await;
    ui.wait_for("datalist#fields option[value=usage_user]")
        .await;
    ui.fill("#rule-form input[name=field]", "usage_user").await;
    ui.c.find(Locator::Css("select[name=aggregate]"))
        .await
        .expect("aggregate select")
        .select_by_value("")
        .await
        .expect("no aggregate");
    ui.fill("#rule-form input[name=f1_key]", "cpu").await;
    ui.fill("#rule-form input[name=f1_value]", "cpu-total")
        .await;
    ui.fill("#rule-form input[name=group_by]", "host").await;
    ui.fill("#rule-form input[name=crit]", "50").await;
    ui.fill("#rule-form input[name=warn]", "30").await;
    ui.fill("#rule-form input[name=h_log]", "e2e.log").await;
    ui.click("button[value=preview]").await;
    ui.wait_for("#preview svg").await;
    let text = ui.text().await;
    let script = ui
        .wait_for("#generated")
        .await
        .text()
        .await
        .expect("script");
    assert!(
        script.contains(".crit(lambda: \"value\" > crit)") && script.contains("var crit = 50.0"),
        "{script}"
    );
    // host-002 runs at 26 +- 8 % user: the stored hour crosses the warning level.
    assert!(
        text.contains("WARNING"),
        "the preview replays stored points:\n{text}"
    );
    assert!(!text.contains("CRITICAL"), "nothing stored reaches 50 %");
    ui.shot("09-rule-builder-preview").await;
    ui.click("button[value=test]").await;
    ui.wait_for("#handler-tests").await;
    assert!(ui.text().await.contains("e2e.log: sent"));
    ui.click("button[value=save]").await;
    ui.wait_path("the task page", |p| p.starts_with("/alerts/tasks/e2e-cpu"))
        .await;
    ui.wait_for("svg.pipeline").await;
    assert_eq!(
        ui.count("svg.pipeline g.node").await,
        4,
        "stream, from, eval, alert"
    );
    ui.shot("10-alert-task").await;

    // A point far over the critical level for host-000.
    let now = now_ns();
    ui.write(format!(
        "cpu,host=host-000,cpu=cpu-total usage_user=97,usage_system=1,usage_iowait=0,usage_idle=2 {now}\n"
    ))
    .await;
    let text = ui
        .wait_text(
            "/alerts/history?level=CRITICAL&host=host-000",
            "e2e-cpu:host=host-000",
        )
        .await;
    assert!(text.contains("CRITICAL") && text.contains("97"), "{text}");
    ui.shot("11-alert-history").await;
    ui.goto("/alerts").await;
    ui.wait_for("table.events").await;
    assert!(ui.text().await.contains("e2e-cpu:host=host-000"));
    ui.shot("12-active-alerts").await;
    let text = ui.wait_text("/alerts/tasks/e2e-cpu", "alerts 1").await;
    assert!(text.contains("alerts 1"), "{text}");
    ui.goto("/alerts/rules").await;
    ui.wait_for("#rules").await;
    assert!(
        ui.text().await.contains("CRITICAL"),
        "the rules list shows the last event"
    );
    ui.shot("13-alert-rules").await;
    // The host's dashboard marks the event on its charts.
    ui.goto("/hosts/host-000?from=now-1h&to=now").await;
    ui.wait_for("section.panel svg").await;
    let marked =
        ui.c.execute(
            "return Array.from(document.querySelectorAll('section.panel svg text'))
               .filter(t => t.textContent.includes('e2e-cpu CRITICAL')).length;",
            Vec::new(),
        )
        .await
        .ok()
        .and_then(|v| v.as_u64())
        .unwrap_or(0);
    assert!(marked >= 1, "an annotation on the host's charts");
    ui.shot("14-host-annotation").await;
    // The raw editor points at the error.
    ui.goto("/alerts/tasks/new/script").await;
    ui.fill("input[name=id]", "e2e-raw").await;
    ui.fill(
        "textarea[name=script]",
        "dbrp \"telegraf\".\"autogen\"\nstream\n    |from()\n        .measurment('cpu')\n",
    )
    .await;
    ui.click("button[value=check]").await;
    ui.wait_for("#script-error").await;
    let text = ui.text().await;
    assert!(text.contains("Line 4"), "{text}");
    ui.shot("15-tickscript-error").await;
}

/// As the viewer: alerts are visible, nothing can be changed.
pub(super) async fn viewer_alerts(ui: &Ui) {
    ui.goto("/alerts/rules").await;
    ui.wait_for("#rules").await;
    assert!(ui.text().await.contains("e2e-cpu"));
    for css in [
        "form[action$='/enabled']",
        "form[action$='/delete']",
        "a[href$='/delete']",
        "a[href='/alerts/rules/new']",
    ] {
        assert_eq!(ui.count(css).await, 0, "a viewer sees no `{css}`");
    }
    ui.shot("16-viewer-alert-rules").await;
    let status = ui
        .post_status("/alerts/tasks/e2e-cpu/enabled", &[("enabled", "false")])
        .await;
    assert_eq!(status, 403, "a viewer cannot disable a rule");
    let status = ui.post_status("/alerts/tasks/e2e-cpu/delete", &[]).await;
    assert_eq!(status, 403, "a viewer cannot delete a rule");
    ui.goto("/alerts/tasks/e2e-cpu/script").await;
    ui.wait_for("textarea[readonly]").await;
    assert_eq!(ui.count("button[value=save]").await, 0);
    ui.goto("/alerts/tasks/e2e-cpu").await;
    ui.wait_for("svg.pipeline").await;
    assert!(ui.text().await.contains("running"));
}
