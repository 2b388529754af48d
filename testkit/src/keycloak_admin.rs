//! Keycloak's admin REST API, for tests that must change the realm: rotate
//! its signing keys, import a key a test can sign with, add clients with
//! unusual settings, create throwaway users. Signs in as the bootstrap admin of realm `master`
//! (`KEYCLOAK_ADMIN_USER` / `KEYCLOAK_ADMIN_PASSWORD`).
//!
//! The realm is shared by every test running at the same time, so helpers
//! here only ever add things (or remove what they added), never change what
//! other tests rely on.

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::stack::Stack;

/// A signed-in admin session.
pub struct KeycloakAdmin {
    http: reqwest::Client,
    base: String,
    realm: String,
    token: String,
}

/// A realm signing key as the admin API lists it.
#[derive(Debug, Clone)]
pub struct RealmKeyInfo {
    pub kid: String,
    /// Id of the key provider component that holds it.
    pub provider_id: String,
    pub algorithm: String,
    pub priority: i64,
    pub status: String,
}

impl KeycloakAdmin {
    /// Signs in to `master` with the stack's admin credentials.
    pub async fn login(stack: &Stack) -> anyhow::Result<KeycloakAdmin> {
        let http = reqwest::Client::new();
        let base = stack.keycloak_url().trim_end_matches('/').to_owned();
        let reply = http
            .post(format!(
                "{base}/realms/master/protocol/openid-connect/token"
            ))
            .form(&[
                ("grant_type", "password"),
                ("client_id", "admin-cli"),
                ("username", stack.var("KEYCLOAK_ADMIN_USER")?),
                ("password", stack.var("KEYCLOAK_ADMIN_PASSWORD")?),
            ])
            .send()
            .await?;
        let status = reply.status();
        let body: Value = reply.json().await?;
        let Some(token) = body["access_token"].as_str() else {
            bail!("Keycloak admin login refused: {status} {body}");
        };
        Ok(KeycloakAdmin {
            http,
            base,
            realm: stack
                .var("KEYCLOAK_REALM")
                .unwrap_or("nats-chat")
                .to_owned(),
            token: token.to_owned(),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/admin/realms/{}{path}", self.base, self.realm)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<reqwest::Response> {
        let reply = request.bearer_auth(&self.token).send().await?;
        let status = reply.status();
        if !status.is_success() {
            let body = reply.text().await.unwrap_or_default();
            bail!("Keycloak admin API answered {status}: {body}");
        }
        Ok(reply)
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        Ok(self
            .send(self.http.get(self.url(path)))
            .await?
            .json()
            .await?)
    }

    /// Creates something with POST and returns the id from `Location`.
    async fn create(&self, path: &str, body: &Value) -> anyhow::Result<String> {
        let reply = self.send(self.http.post(self.url(path)).json(body)).await?;
        let location = reply
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .context("Keycloak created something but sent no Location")?;
        Ok(location.rsplit('/').next().unwrap_or_default().to_owned())
    }

    /// Creates a user with the `user` role and everything Keycloak's profile
    /// requires, so logging in asks for nothing else; returns its id.
    pub async fn create_user(&self, username: &str, password: &str) -> anyhow::Result<String> {
        let id = self
            .create(
                "/users",
                &json!({
                    "username": username,
                    "enabled": true,
                    "email": format!("{username}@example.org"),
                    "emailVerified": true,
                    "firstName": "Test",
                    "lastName": "User",
                    "credentials": [{"type": "password", "value": password, "temporary": false}],
                }),
            )
            .await?;
        let role = self.get("/roles/user").await?;
        self.send(
            self.http
                .post(self.url(&format!("/users/{id}/role-mappings/realm")))
                .json(&json!([role])),
        )
        .await?;
        Ok(id)
    }

    /// Ends every Keycloak session of the user with this id.
    pub async fn logout_user(&self, id: &str) -> anyhow::Result<()> {
        self.send(self.http.post(self.url(&format!("/users/{id}/logout"))))
            .await?;
        Ok(())
    }

    /// Removes a user (one this test created).
    pub async fn delete_user(&self, id: &str) -> anyhow::Result<()> {
        self.send(self.http.delete(self.url(&format!("/users/{id}"))))
            .await?;
        Ok(())
    }

    /// The realm's internal id (parent of its key providers).
    pub async fn realm_id(&self) -> anyhow::Result<String> {
        let realm = self.get("").await?;
        Ok(realm["id"].as_str().context("realm without id")?.to_owned())
    }

    /// The realm's keys (active, passive and disabled).
    pub async fn keys(&self) -> anyhow::Result<Vec<RealmKeyInfo>> {
        let keys = self.get("/keys").await?;
        Ok(keys["keys"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|k| {
                Some(RealmKeyInfo {
                    kid: k["kid"].as_str()?.to_owned(),
                    provider_id: k["providerId"].as_str()?.to_owned(),
                    algorithm: k["algorithm"].as_str().unwrap_or_default().to_owned(),
                    priority: k["providerPriority"].as_i64().unwrap_or_default(),
                    status: k["status"].as_str().unwrap_or_default().to_owned(),
                })
            })
            .collect())
    }

    /// Key provider components of the realm, as JSON.
    pub async fn key_providers(&self) -> anyhow::Result<Vec<Value>> {
        let list = self
            .get("/components?type=org.keycloak.keys.KeyProvider")
            .await?;
        Ok(list.as_array().cloned().unwrap_or_default())
    }

    /// Adds a key provider generating a fresh RS256 key; returns the
    /// provider id. With a priority above the others, Keycloak signs new
    /// tokens with it while older keys stay active for verification.
    pub async fn add_generated_rsa_key(&self, name: &str, priority: i64) -> anyhow::Result<String> {
        self.add_rsa_key_provider(name, "rsa-generated", priority, ("keySize", "2048"))
            .await
    }

    /// Imports an RSA private key (PKCS#1 or PKCS#8 PEM) as an RS256 realm
    /// key, so a test can sign tokens the realm's JWKS vouches for. Give it
    /// a low priority so Keycloak keeps signing with its own key.
    pub async fn import_rsa_key(
        &self,
        name: &str,
        private_key_pem: &str,
        priority: i64,
    ) -> anyhow::Result<String> {
        self.add_rsa_key_provider(name, "rsa", priority, ("privateKey", private_key_pem))
            .await
    }

    /// Adds an active RS256 key provider of kind `provider` with one
    /// provider-specific setting.
    async fn add_rsa_key_provider(
        &self,
        name: &str,
        provider: &str,
        priority: i64,
        (setting, value): (&str, &str),
    ) -> anyhow::Result<String> {
        let mut body = json!({
            "name": name,
            "providerId": provider,
            "providerType": "org.keycloak.keys.KeyProvider",
            "parentId": self.realm_id().await?,
            "config": {
                "priority": [priority.to_string()],
                "enabled": ["true"],
                "active": ["true"],
                "algorithm": ["RS256"],
            }
        });
        body["config"][setting] = json!([value]);
        self.create("/components", &body).await
    }

    /// Changes a key provider's priority (e.g. to stop it signing while its
    /// key stays available for verification).
    pub async fn set_key_priority(&self, provider_id: &str, priority: i64) -> anyhow::Result<()> {
        let mut component = self.get(&format!("/components/{provider_id}")).await?;
        component["config"]["priority"] = json!([priority.to_string()]);
        // The admin API masks secrets on read; sending the mask back keeps them.
        self.send(
            self.http
                .put(self.url(&format!("/components/{provider_id}")))
                .json(&component),
        )
        .await?;
        Ok(())
    }

    /// Removes a component (a key provider this test added).
    pub async fn delete_component(&self, id: &str) -> anyhow::Result<()> {
        self.send(self.http.delete(self.url(&format!("/components/{id}"))))
            .await?;
        Ok(())
    }

    /// The kid of the key a provider holds.
    pub async fn kid_of(&self, provider_id: &str) -> anyhow::Result<String> {
        self.keys()
            .await?
            .into_iter()
            .find(|k| k.provider_id == provider_id && k.algorithm == "RS256")
            .map(|k| k.kid)
            .with_context(|| format!("no RS256 key from provider {provider_id}"))
    }

    /// Makes sure a public client with the device grant exists (created once,
    /// reused by later runs). `access_token_lifespan` in seconds overrides
    /// the realm's; `nats_audience` adds the mapper that puts `nats-chat`
    /// into `aud`.
    pub async fn ensure_device_client(
        &self,
        client_id: &str,
        access_token_lifespan: Option<u64>,
        nats_audience: bool,
    ) -> anyhow::Result<()> {
        let existing = self.get(&format!("/clients?clientId={client_id}")).await?;
        if existing.as_array().is_some_and(|a| !a.is_empty()) {
            return Ok(());
        }
        let mut attributes = json!({"oauth2.device.authorization.grant.enabled": "true"});
        if let Some(lifespan) = access_token_lifespan {
            attributes["access.token.lifespan"] = json!(lifespan.to_string());
        }
        let mut mappers = vec![];
        if nats_audience {
            mappers.push(json!({
                "name": "nats-audience",
                "protocol": "openid-connect",
                "protocolMapper": "oidc-audience-mapper",
                "config": {
                    "included.custom.audience": "nats-chat",
                    "access.token.claim": "true",
                    "id.token.claim": "false",
                }
            }));
        }
        let body = json!({
            "clientId": client_id,
            "name": format!("test only: {client_id}"),
            "enabled": true,
            "publicClient": true,
            "protocol": "openid-connect",
            "standardFlowEnabled": false,
            "directAccessGrantsEnabled": false,
            "attributes": attributes,
            "protocolMappers": mappers,
        });
        match self.create("/clients", &body).await {
            Ok(_) => Ok(()),
            // Another test created it at the same moment.
            Err(e) if e.to_string().contains("409") => Ok(()),
            Err(e) => Err(e),
        }
    }
}
