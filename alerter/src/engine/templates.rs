//! Task templates (Kapacitor's `/templates`): a script with typed or defaulted vars;
//! a task created with `template-id` takes the template's script and type, and its
//! `vars` give the values. Updating a template re-checks and updates every task made
//! from it (running ones restart), as Kapacitor does; a template that some task
//! could no longer compile with is refused.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Engine, lock, now_ns, valid_id};
use crate::error::Error;
use crate::tick::{self, CheckOptions, DeclaredVar, TaskType, VarValue};

/// A stored template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateDef {
    pub id: String,
    #[serde(rename = "type")]
    pub task_type: TaskType,
    pub script: String,
    /// ns since the epoch.
    pub created: i64,
    pub modified: i64,
}

/// A define or update request (Kapacitor's template POST/PATCH body).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TemplateRequest {
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub task_type: Option<TaskType>,
    pub script: Option<String>,
}

/// What `GET /templates/ID` reports.
#[derive(Debug, Clone)]
pub struct TemplateInfo {
    pub def: TemplateDef,
    /// The vars the script declares.
    pub vars: Vec<DeclaredVar>,
    pub dot: String,
    /// Ids of the tasks made from it.
    pub tasks: Vec<String>,
}

/// A var as Kapacitor's API carries it: `{"type": "float", "value": 80}`. Durations
/// are strings (`"10s"`) or integer nanoseconds, lambdas their expression text, lists
/// arrays of vars.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Var {
    #[serde(rename = "type")]
    pub ty: String,
    pub value: Value,
    #[serde(default)]
    pub description: String,
}

fn var_value(name: &str, v: &Var) -> Result<VarValue, Error> {
    let bad = || {
        Error::Invalid(format!(
            "invalid var {name}: value {} is not a {}",
            v.value, v.ty
        ))
    };
    let str_of = || v.value.as_str().map(str::to_string).ok_or_else(bad);
    Ok(match v.ty.as_str() {
        "bool" | "boolean" => VarValue::Bool(v.value.as_bool().ok_or_else(bad)?),
        "int" => VarValue::Int(v.value.as_i64().ok_or_else(bad)?),
        "float" => VarValue::Float(v.value.as_f64().ok_or_else(bad)?),
        "string" => VarValue::String(str_of()?),
        "regex" => VarValue::Regex(str_of()?),
        "lambda" => VarValue::Lambda(str_of()?),
        "star" => VarValue::Star,
        "duration" => VarValue::Duration(match &v.value {
            Value::Number(n) => n.as_i64().ok_or_else(bad)?,
            Value::String(s) => tick::parser::parse_duration(s).ok_or_else(bad)?,
            _ => return Err(bad()),
        }),
        "list" => {
            let items = v.value.as_array().ok_or_else(bad)?;
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                let iv: Var = serde_json::from_value(item.clone()).map_err(|_| bad())?;
                out.push(var_value(name, &iv)?);
            }
            VarValue::List(out)
        }
        other => {
            return Err(Error::Invalid(format!(
                "invalid var {name}: unknown type {other:?}"
            )));
        }
    })
}

/// The compile-time values of a task's vars.
pub fn var_values(vars: &BTreeMap<String, Var>) -> Result<BTreeMap<String, VarValue>, Error> {
    vars.iter()
        .map(|(k, v)| Ok((k.clone(), var_value(k, v)?)))
        .collect()
}

/// A [`VarValue`] as API JSON (`null` for none).
pub fn var_json(v: Option<&VarValue>) -> Value {
    match v {
        None => Value::Null,
        Some(VarValue::Bool(b)) => Value::Bool(*b),
        Some(VarValue::Int(i)) => Value::from(*i),
        Some(VarValue::Float(f)) => Value::from(*f),
        Some(VarValue::String(s) | VarValue::Regex(s) | VarValue::Lambda(s)) => {
            Value::String(s.clone())
        }
        Some(VarValue::Duration(d)) => Value::String(tick::functions::format_duration(*d)),
        Some(VarValue::Star) => Value::String("*".into()),
        Some(VarValue::List(items)) => Value::Array(
            items
                .iter()
                .map(|i| serde_json::json!({"type": i.type_name(), "value": var_json(Some(i))}))
                .collect(),
        ),
    }
}

/// Checks a template: typed vars without a value get a stand-in of their type.
fn check_template(def: &TemplateDef) -> Result<Vec<DeclaredVar>, Error> {
    let declared = tick::declared_vars(&def.script)?;
    let mut vars = BTreeMap::new();
    for d in &declared {
        if d.value.is_none()
            && let Some(v) = tick::placeholder(&d.type_name)
        {
            vars.insert(d.name.clone(), v);
        }
    }
    let opts = CheckOptions {
        dbrps: Vec::new(),
        require_dbrp: false,
        task_type: Some(def.task_type),
        vars,
    };
    tick::compile(&def.script, &opts)?;
    Ok(declared)
}

impl Engine {
    pub(crate) fn template_def(&self, id: &str) -> Result<TemplateDef, Error> {
        self.all_templates()?
            .into_iter()
            .find(|t| t.id == id)
            .ok_or_else(|| Error::NotFound(format!("template {id}")))
    }

    fn all_templates(&self) -> Result<Vec<TemplateDef>, Error> {
        let rows = lock(&self.inner.db).load_templates()?;
        rows.iter()
            .map(|s| serde_json::from_str(s).map_err(|e| Error::Db(e.to_string())))
            .collect()
    }

    fn template_info(&self, def: TemplateDef) -> TemplateInfo {
        let vars = tick::declared_vars(&def.script).unwrap_or_default();
        let tasks = lock(&self.inner.tasks)
            .values()
            .filter(|e| e.def.template_id == def.id)
            .map(|e| e.def.id.clone())
            .collect();
        let mut placeholders = BTreeMap::new();
        for d in &vars {
            if d.value.is_none()
                && let Some(v) = tick::placeholder(&d.type_name)
            {
                placeholders.insert(d.name.clone(), v);
            }
        }
        let dot = tick::compile(
            &def.script,
            &CheckOptions {
                vars: placeholders,
                ..CheckOptions::default()
            },
        )
        .map(|g| g.to_dot(&def.id))
        .unwrap_or_default();
        TemplateInfo {
            def,
            vars,
            dot,
            tasks,
        }
    }

    /// Defines a template (Kapacitor's `POST /templates`).
    pub fn define_template(&self, req: TemplateRequest) -> Result<TemplateInfo, Error> {
        let Some(id) = req.id.clone() else {
            return Err(Error::Invalid("must provide a template ID".into()));
        };
        if !valid_id(&id) {
            return Err(Error::Invalid(format!(
                "template ID must contain only letters, numbers, '-', '.' and '_'. {id:?}"
            )));
        }
        if self.template_def(&id).is_ok() {
            return Err(Error::Invalid(format!("template {id} already exists")));
        }
        let Some(script) = req.script else {
            return Err(Error::Invalid("must provide TICKscript".into()));
        };
        let now = now_ns();
        let mut def = TemplateDef {
            id: id.clone(),
            task_type: req.task_type.unwrap_or(TaskType::Stream),
            script,
            created: now,
            modified: now,
        };
        if req.task_type.is_none() {
            // The type follows the script's source node, as for tasks.
            def.task_type = if tick::parse(&def.script)?
                .statements
                .iter()
                .any(|s| matches!(&s.kind, tick::ast::NodeKind::Chain { head, .. } if matches!(&head.kind, tick::ast::NodeKind::Ident(n) if n == "batch")))
            {
                TaskType::Batch
            } else {
                TaskType::Stream
            };
        }
        check_template(&def)?;
        let json = serde_json::to_string(&def).map_err(|e| Error::Db(e.to_string()))?;
        lock(&self.inner.db).save_template(&id, &json)?;
        Ok(self.template_info(def))
    }

    /// Updates a template's script or type, and every task made from it.
    pub fn update_template(&self, id: &str, req: TemplateRequest) -> Result<TemplateInfo, Error> {
        let mut def = self.template_def(id)?;
        if req.id.as_ref().is_some_and(|n| n != id) {
            return Err(Error::Unsupported(
                "renaming a template is not supported yet".into(),
            ));
        }
        if let Some(s) = req.script {
            def.script = s;
        }
        if let Some(t) = req.task_type {
            def.task_type = t;
        }
        def.modified = now_ns();
        check_template(&def)?;
        let tasks: Vec<String> = lock(&self.inner.tasks)
            .values()
            .filter(|e| e.def.template_id == id)
            .map(|e| e.def.id.clone())
            .collect();
        // Every task must still compile with its vars before anything changes.
        let mut updated = Vec::new();
        for t in &tasks {
            let mut td = self.def(t)?;
            td.script = def.script.clone();
            td.task_type = def.task_type;
            td.modified = def.modified;
            let td = self
                .checked(td, false)
                .map_err(|e| Error::Invalid(format!("task {t} from this template: {e}")))?;
            updated.push(td);
        }
        let json = serde_json::to_string(&def).map_err(|e| Error::Db(e.to_string()))?;
        lock(&self.inner.db).save_template(id, &json)?;
        for td in updated {
            lock(&self.inner.db).save_task(&td)?;
            let running = {
                let mut tasks = lock(&self.inner.tasks);
                match tasks.get_mut(&td.id) {
                    Some(e) => {
                        e.def = td.clone();
                        e.running.take()
                    }
                    None => None,
                }
            };
            if running.is_some() {
                // Restart with the new script (its state does not carry over to a
                // different script, as for a task update).
                self.stop(&td.id, running);
                self.start(&td.id, false)?;
            }
        }
        Ok(self.template_info(def))
    }

    /// Deletes a template; tasks made from it keep their script.
    pub fn delete_template(&self, id: &str) -> Result<(), Error> {
        if !lock(&self.inner.db).delete_template(id)? {
            return Err(Error::NotFound(format!("template {id}")));
        }
        Ok(())
    }

    /// One template.
    pub fn template(&self, id: &str) -> Result<TemplateInfo, Error> {
        let def = self.template_def(id)?;
        Ok(self.template_info(def))
    }

    /// All templates, sorted by id.
    pub fn templates(&self) -> Result<Vec<TemplateInfo>, Error> {
        Ok(self
            .all_templates()?
            .into_iter()
            .map(|d| self.template_info(d))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vars_convert_as_kapacitor_sends_them() {
        let v = |ty: &str, value: Value| Var {
            ty: ty.into(),
            value,
            description: String::new(),
        };
        assert_eq!(
            var_value("w", &v("duration", Value::from("1m30s"))).ok(),
            Some(VarValue::Duration(90_000_000_000))
        );
        assert_eq!(
            var_value("c", &v("float", Value::from(80))).ok(),
            Some(VarValue::Float(80.0))
        );
        assert!(var_value("c", &v("int", Value::from(1.5))).is_err());
        let list = v(
            "list",
            serde_json::json!([{"type": "string", "value": "host"}, {"type": "star", "value": null}]),
        );
        assert_eq!(
            var_value("g", &list).ok(),
            Some(VarValue::List(vec![
                VarValue::String("host".into()),
                VarValue::Star
            ]))
        );
        assert!(var_value("x", &v("complex", Value::Null)).is_err());
    }
}
