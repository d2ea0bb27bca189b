// tigk: tooltips, drag-zoom and per-panel refresh over the server-drawn charts. Plain script,
// no build step, served from the binary. Every page works without it: it reads only the data-*
// attributes the server writes on each chart's <svg> (ui/src/chart.rs, ChartMeta).
(function () {
  "use strict";

  function nums(s) {
    return (s || "").trim().split(/\s+/).filter(Boolean).map(Number);
  }

  function scaled(v, base, units, suffix) {
    var i = 0;
    while (Math.abs(v) >= base && i < units.length - 1) {
      v /= base;
      i++;
    }
    return +v.toPrecision(3) + (units[i] ? " " + units[i] : "") + suffix;
  }

  var IEC = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  function format(v, unit) {
    switch (unit) {
      case "percent": return v.toFixed(1) + "%";
      case "bytes": return scaled(v, 1024, IEC, "");
      case "bytes_per_sec": return scaled(v, 1024, IEC, "/s");
      case "seconds": return +v.toPrecision(3) + " s";
      case "none": return String(+v.toPrecision(6));
      default: return scaled(v, 1000, ["", "k", "M", "G", "T", "P"], "");
    }
  }

  // The URL form of a time: UTC, as the range picker reads it.
  function utc(ms) {
    return new Date(ms).toISOString().slice(0, 19);
  }

  function chart(svg) {
    var plot = nums(svg.dataset.plot), t = nums(svg.dataset.t), v = nums(svg.dataset.v);
    var x0 = plot[0], y0 = plot[1], x1 = plot[2], y1 = plot[3];
    if (!(x1 > x0) || !(y1 > y0) || t.length !== 2 || v.length !== 2) return;
    var names = JSON.parse(svg.dataset.names || "[]");
    var lines = svg.querySelectorAll("polyline");
    var k = +svg.dataset.first || 0, pts = [];
    nums(svg.dataset.segs).forEach(function (n, s) {
      for (var j = 0; j < n; j++, k++) {
        var line = lines[k];
        if (!line) return;
        var color = line.getAttribute("stroke");
        (line.getAttribute("points") || "").trim().split(/\s+/).forEach(function (p) {
          var xy = p.split(",");
          if (xy.length === 2) pts.push([+xy[0], +xy[1], s, color]);
        });
      }
    });
    var box = svg.viewBox && svg.viewBox.baseVal;
    var panel = svg.closest(".panel") || svg.parentNode;
    panel.classList.add("js-chart");
    var tip = document.createElement("div");
    tip.className = "tip";
    tip.hidden = true;
    panel.appendChild(tip);
    var sel = document.createElement("div");
    sel.className = "zoom-sel";
    sel.hidden = true;
    panel.appendChild(sel);

    function at(e) {
      var r = svg.getBoundingClientRect();
      var w = box && box.width ? box.width : r.width, h = box && box.height ? box.height : r.height;
      return { x: (e.clientX - r.left) * w / r.width, y: (e.clientY - r.top) * h / r.height, r: r, sx: r.width / w };
    }
    function time(x) {
      return t[0] + (x - x0) / (x1 - x0) * (t[1] - t[0]);
    }
    function inPlot(p) {
      return p.x >= x0 && p.x <= x1 && p.y >= y0 && p.y <= y1;
    }
    // Where an svg x lies in the panel's own pixels.
    function panelX(p, x) {
      return p.r.left - panel.getBoundingClientRect().left + x * p.sx;
    }

    var start = null;
    svg.addEventListener("mousemove", function (e) {
      var p = at(e);
      if (start !== null) {
        var a = Math.max(x0, Math.min(start, p.x)), b = Math.min(x1, Math.max(start, p.x));
        sel.style.left = panelX(p, a) + "px";
        sel.style.width = (b - a) * p.sx + "px";
        sel.style.top = (p.r.top - panel.getBoundingClientRect().top + y0 * p.sx) + "px";
        sel.style.height = (y1 - y0) * p.sx + "px";
        sel.hidden = false;
      }
      if (!inPlot(p) || !pts.length) {
        tip.hidden = true;
        return;
      }
      var best = null, bd = Infinity;
      for (var i = 0; i < pts.length; i++) {
        var dx = pts[i][0] - p.x, dy = pts[i][1] - p.y, d = dx * dx + dy * dy;
        if (d < bd) {
          bd = d;
          best = pts[i];
        }
      }
      var value = v[1] - (best[1] - y0) / (y1 - y0) * (v[1] - v[0]);
      tip.textContent = "";
      var name = document.createElement("b");
      name.textContent = names[best[2]] || "";
      var val = document.createElement("span");
      val.textContent = " " + format(value, svg.dataset.unit) + " at " + utc(time(best[0])).replace("T", " ");
      tip.appendChild(name);
      tip.appendChild(val);
      tip.style.borderColor = best[3];
      tip.hidden = false;
      var left = panelX(p, best[0]) + 12;
      if (left + tip.offsetWidth > panel.clientWidth) left = panelX(p, best[0]) - tip.offsetWidth - 12;
      tip.style.left = Math.max(0, left) + "px";
      tip.style.top = (p.r.top - panel.getBoundingClientRect().top + best[1] * p.sx + 12) + "px";
    });
    svg.addEventListener("mouseleave", function () {
      tip.hidden = true;
    });

    // Drag-zoom only where the page has a range in its URL (its range picker).
    var zoomOut = document.querySelector("a.zoom-out");
    if (!zoomOut) return;
    svg.addEventListener("mousedown", function (e) {
      var p = at(e);
      if (e.button === 0 && inPlot(p)) {
        start = p.x;
        e.preventDefault();
      }
    });
    document.addEventListener("mouseup", function (e) {
      if (start === null) return;
      var p = at(e), a = Math.max(x0, Math.min(start, p.x)), b = Math.min(x1, Math.max(start, p.x));
      start = null;
      sel.hidden = true;
      if (b - a < 4) return;
      var url = new URL(location.href);
      url.searchParams.set("from", utc(time(a)));
      url.searchParams.set("to", utc(time(b)));
      // A pinned range would refresh to the same data.
      url.searchParams.delete("refresh");
      url.hash = "";
      location.assign(url.toString());
    });
    svg.addEventListener("dblclick", function () {
      location.assign(zoomOut.href);
    });
  }

  function charts(root) {
    root.querySelectorAll("svg.chart[data-plot]").forEach(chart);
  }

  // Per-panel refresh: fetch the panel's body alone; without the script the link reloads the page.
  document.addEventListener("click", function (e) {
    var a = e.target.closest && e.target.closest("a.refresh");
    var section = a && a.closest("[data-body]");
    if (!section) return;
    e.preventDefault();
    section.classList.add("loading");
    fetch(section.dataset.body, { credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok) throw new Error(r.status);
        return r.text();
      })
      .then(function (html) {
        var body = section.querySelector(".body");
        section.querySelectorAll(".tip, .zoom-sel").forEach(function (n) { n.remove(); });
        body.innerHTML = html;
        charts(body);
      })
      .catch(function () {
        location.assign(a.href);
      })
      .finally(function () {
        section.classList.remove("loading");
      });
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { charts(document); });
  } else {
    charts(document);
  }
})();
