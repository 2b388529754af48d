//! Keycloak logins driven the way a person's browser would drive them: a
//! cookie jar, Keycloak's own HTML pages, form posts. No admin shortcut and
//! no password grant, so the tests go through exactly what people use.

use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::stack::Stack;

/// Tokens from Keycloak's token endpoint.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenSet {
    pub access_token: String,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub id_token: Option<String>,
    #[serde(default)]
    pub expires_in: u64,
}

impl TokenSet {
    /// The access token's claims, decoded without checking the signature
    /// (tests compare them with what Keycloak was asked for).
    pub fn access_claims(&self) -> anyhow::Result<serde_json::Value> {
        jwt_claims(&self.access_token)
    }
}

/// The claims of a JWT, decoded without verification.
pub fn jwt_claims(jwt: &str) -> anyhow::Result<serde_json::Value> {
    let payload = jwt.split('.').nth(1).context("a JWT has three parts")?;
    let bytes = URL_SAFE_NO_PAD.decode(payload)?;
    Ok(serde_json::from_slice(&bytes)?)
}

/// A device authorization as Keycloak returned it.
#[derive(Debug, Clone, Deserialize)]
pub struct DeviceAuthorization {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    pub interval: u64,
    pub expires_in: u64,
}

/// A PKCE verifier and its S256 challenge.
#[derive(Debug, Clone)]
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Pkce {
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        let verifier = URL_SAFE_NO_PAD.encode(bytes);
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        Pkce {
            verifier,
            challenge,
        }
    }
}

impl Default for Pkce {
    fn default() -> Self {
        Pkce::new()
    }
}

fn endpoint(stack: &Stack, path: &str) -> String {
    format!("{}/protocol/openid-connect/{path}", stack.issuer())
}

/// Starts a device authorization for `client_id` (with PKCE, which the
/// realm enforces for the terminal client).
pub async fn start_device(
    stack: &Stack,
    client_id: &str,
    pkce: &Pkce,
) -> anyhow::Result<DeviceAuthorization> {
    let reply = reqwest::Client::new()
        .post(endpoint(stack, "auth/device"))
        .form(&[
            ("client_id", client_id),
            ("scope", "openid"),
            ("code_challenge", &pkce.challenge),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await?;
    let status = reply.status();
    let body = reply.text().await?;
    if !status.is_success() {
        bail!("device authorization for {client_id} refused: {status} {body}");
    }
    Ok(serde_json::from_str(&body)?)
}

/// Approves a device code as a person would: opens the verification URL,
/// signs in on Keycloak's login page, and grants consent if asked.
pub async fn approve_device(
    verification_uri_complete: &str,
    username: &str,
    password: &str,
) -> anyhow::Result<()> {
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::limited(10))
        .build()?;
    let page = Page::fetch(browser.get(verification_uri_complete)).await?;
    let login = page
        .form("kc-form-login")
        .ok_or_else(|| anyhow!("no login form on the page: {}", page.message()))?;
    let page = Page::fetch(login.submit(
        &browser,
        &[
            ("username", username),
            ("password", password),
            ("credentialId", ""),
        ],
    ))
    .await?;
    // Keycloak asks for consent on the device grant: a form with a hidden
    // `code` and an `accept` button.
    let page = match page.form("name=\"accept\"") {
        Some(consent) => Page::fetch(consent.submit(&browser, &[("accept", "Yes")])).await?,
        None => page,
    };
    if !page.html.contains("Device Login Successful") {
        bail!(
            "Keycloak did not confirm the device login: {}",
            page.message()
        );
    }
    Ok(())
}

/// Polls the token endpoint for a device code until Keycloak answers with
/// tokens or a final error (`authorization_pending` and `slow_down` wait).
pub async fn poll_device_token(
    stack: &Stack,
    client_id: &str,
    device: &DeviceAuthorization,
    pkce: &Pkce,
) -> anyhow::Result<TokenSet> {
    let http = reqwest::Client::new();
    let mut interval = Duration::from_secs(device.interval.max(1));
    let mut polls = 0;
    loop {
        polls += 1;
        let reply = http
            .post(endpoint(stack, "token"))
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("device_code", &device.device_code),
                ("client_id", client_id),
                ("code_verifier", &pkce.verifier),
            ])
            .send()
            .await?;
        let status = reply.status();
        let body: serde_json::Value = reply.json().await?;
        if status.is_success() {
            return Ok(serde_json::from_value(body)?);
        }
        match body["error"].as_str() {
            Some("authorization_pending") if polls < 60 => {}
            Some("slow_down") if polls < 60 => interval += Duration::from_secs(5),
            _ => bail!("device token request failed: {status} {body}"),
        }
        tokio::time::sleep(interval).await;
    }
}

/// A whole device login: start, approve through the pages, collect tokens.
///
/// The approval happens before the first poll, so this costs no waiting.
pub async fn device_login(
    stack: &Stack,
    client_id: &str,
    username: &str,
    password: &str,
) -> anyhow::Result<TokenSet> {
    let pkce = Pkce::new();
    let device = start_device(stack, client_id, &pkce).await?;
    approve_device(&device.verification_uri_complete, username, password).await?;
    poll_device_token(stack, client_id, &device, &pkce).await
}

/// Plays the browser for an authorization-code login: follows
/// `authorization_url`, signs in, and returns the URL Keycloak redirects to
/// (the client's loopback redirect with `code` and `state`) without
/// fetching it.
pub async fn browser_login(
    authorization_url: &str,
    username: &str,
    password: &str,
) -> anyhow::Result<String> {
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let mut url = authorization_url.to_owned();
    let mut posted = false;
    for _ in 0..10 {
        let reply = browser.get(&url).send().await?;
        if let Some(location) = redirect_target(&reply) {
            if !same_origin(&location, authorization_url) {
                return Ok(location);
            }
            url = location;
            continue;
        }
        let page = Page::read(reply).await?;
        if posted {
            bail!("Keycloak did not redirect after login: {}", page.message());
        }
        let login = page
            .form("kc-form-login")
            .ok_or_else(|| anyhow!("no login form on the page: {}", page.message()))?;
        let reply = login
            .submit(
                &browser,
                &[
                    ("username", username),
                    ("password", password),
                    ("credentialId", ""),
                ],
            )
            .send()
            .await?;
        posted = true;
        match redirect_target(&reply) {
            Some(location) if !same_origin(&location, authorization_url) => return Ok(location),
            Some(location) => url = location,
            None => bail!(
                "login was not accepted: {}",
                Page::read(reply).await?.message()
            ),
        }
    }
    bail!("too many redirects while logging in")
}

/// An HTML page Keycloak served, with the URL it came from.
struct Page {
    url: reqwest::Url,
    html: String,
}

/// A form on a page: where it posts and its hidden fields.
struct Form {
    action: reqwest::Url,
    hidden: Vec<(String, String)>,
}

impl Page {
    async fn fetch(request: reqwest::RequestBuilder) -> anyhow::Result<Page> {
        Page::read(request.send().await?).await
    }

    async fn read(reply: reqwest::Response) -> anyhow::Result<Page> {
        let url = reply.url().clone();
        Ok(Page {
            url,
            html: reply.text().await?,
        })
    }

    /// The first form whose markup contains `marker` (an id or a field).
    fn form(&self, marker: &str) -> Option<Form> {
        self.html.split("<form").skip(1).find_map(|form| {
            let form = form.split("</form>").next()?;
            if !form.contains(marker) {
                return None;
            }
            let action = self.url.join(&attribute(form, "action")?).ok()?;
            let hidden = form
                .split("<input")
                .skip(1)
                .filter(|input| input.contains("type=\"hidden\""))
                .filter_map(|input| Some((attribute(input, "name")?, attribute(input, "value")?)))
                .collect();
            Some(Form { action, hidden })
        })
    }

    /// Keycloak's error or info text, for failure messages.
    fn message(&self) -> String {
        for marker in ["kc-feedback-text\">", "instruction\">", "<title>"] {
            if let Some(start) = self.html.find(marker) {
                let rest = &self.html[start + marker.len()..];
                let end = rest.find('<').unwrap_or(rest.len());
                return rest[..end].trim().to_owned();
            }
        }
        self.html.chars().take(200).collect()
    }
}

impl Form {
    fn submit(
        &self,
        browser: &reqwest::Client,
        fields: &[(&str, &str)],
    ) -> reqwest::RequestBuilder {
        let mut all: Vec<(&str, &str)> = self
            .hidden
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        all.extend_from_slice(fields);
        browser.post(self.action.clone()).form(&all)
    }
}

/// The value of `name="..."` in a tag's markup, HTML entities decoded.
fn attribute(markup: &str, name: &str) -> Option<String> {
    let tag = &markup[..markup.find('>').unwrap_or(markup.len())];
    let key = format!("{name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = start + tag[start..].find('"')?;
    Some(tag[start..end].replace("&amp;", "&"))
}

fn redirect_target(reply: &reqwest::Response) -> Option<String> {
    if !reply.status().is_redirection() {
        return None;
    }
    let location = reply.headers().get("location")?.to_str().ok()?;
    Some(reply.url().join(location).ok()?.to_string())
}

fn same_origin(a: &str, b: &str) -> bool {
    match (reqwest::Url::parse(a), reqwest::Url::parse(b)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_forms_with_their_hidden_fields() {
        let page = Page {
            url: reqwest::Url::parse("http://h/realms/r/page").unwrap(),
            html: r#"<form id="other" action="/x"></form>
                <form action="/login?a=1&amp;b=2" method="POST">
                <input type="hidden" name="code" value="c1"><input name="accept" type="submit">
                </form>"#
                .into(),
        };
        let form = page.form("name=\"accept\"").unwrap();
        assert_eq!(form.action.as_str(), "http://h/login?a=1&b=2");
        assert_eq!(form.hidden, vec![("code".to_owned(), "c1".to_owned())]);
        assert!(page.form("missing").is_none());
    }

    #[test]
    fn pkce_challenge_is_s256_of_verifier() {
        let pkce = Pkce::new();
        assert_eq!(
            pkce.challenge,
            URL_SAFE_NO_PAD.encode(Sha256::digest(pkce.verifier.as_bytes()))
        );
        assert!(pkce.verifier.len() >= 43);
    }
}
