//! Where the local stack listens, as `./dev up` wrote it to `.natschat/env`.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context, bail};

/// The local stack's addresses and demo credentials.
#[derive(Debug, Clone)]
pub struct Stack {
    vars: HashMap<String, String>,
}

impl Stack {
    /// Reads the stack's variables: the process environment first, then the
    /// `env` file in the state folder (`NATSCHAT_STATE`, default
    /// `<workspace>/.natschat`). Fails with a hint when the stack is not up.
    pub fn load() -> anyhow::Result<Stack> {
        let state = std::env::var("NATSCHAT_STATE")
            .map(PathBuf::from)
            .unwrap_or_else(|_| workspace_root().join(".natschat"));
        let file = state.join("env");
        let text = std::fs::read_to_string(&file).with_context(|| {
            format!(
                "the local stack is not set up ({} is missing); run `./dev up` first",
                file.display()
            )
        })?;
        let mut vars = HashMap::new();
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("export ") else {
                continue;
            };
            let Some((key, value)) = rest.split_once('=') else {
                continue;
            };
            let value = value.trim_matches('\'').to_owned();
            vars.insert(key.to_owned(), value);
        }
        for (key, value) in vars.iter_mut() {
            if let Ok(from_env) = std::env::var(key) {
                *value = from_env;
            }
        }
        Ok(Stack { vars })
    }

    /// A variable of the stack, e.g. `NATS_URL` or `DATABASE_URL`.
    pub fn var(&self, key: &str) -> anyhow::Result<&str> {
        match self.vars.get(key) {
            Some(v) => Ok(v),
            None => bail!("the stack's env file has no {key}; run `./dev up` again"),
        }
    }

    pub fn keycloak_url(&self) -> &str {
        self.vars
            .get("KEYCLOAK_URL")
            .map(String::as_str)
            .unwrap_or("http://127.0.0.1:8080")
    }

    /// The realm's issuer URL, as it appears in tokens.
    pub fn issuer(&self) -> String {
        format!("{}/realms/nats-chat", self.keycloak_url())
    }

    pub fn nats_url(&self) -> &str {
        self.vars
            .get("NATS_URL")
            .map(String::as_str)
            .unwrap_or("nats://127.0.0.1:4222")
    }
}

/// The workspace's top folder (where `dev` lives).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testkit lives one folder below the workspace root")
        .to_owned()
}
