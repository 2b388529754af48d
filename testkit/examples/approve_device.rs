//! Approves a pending device login as the given person would in a browser,
//! for trying the terminal client by hand on a machine without a browser:
//!
//! ```sh
//! cargo run -p natschat-testkit --example approve_device -- \
//!     'http://127.0.0.1:8080/realms/nats-chat/device?user_code=ABCD-EFGH' alice alice123
//! ```

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, user, password] = args.as_slice() else {
        anyhow::bail!("usage: approve_device <verification URL with user_code> <user> <password>");
    };
    natschat_testkit::keycloak::approve_device(url, user, password).await?;
    println!("approved the device login for {user}");
    Ok(())
}
