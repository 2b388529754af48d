//! natschat in a terminal: signing in to Keycloak (`auth`), settings
//! (`config`), and later the chat itself.

pub mod auth;
pub mod config;
pub mod net;
pub mod ui;
