//! Signing in to Keycloak from a terminal and keeping the tokens.
//!
//! A login runs one of two flows against a [`Provider`] discovered from the
//! issuer URL: the device grant ([`DeviceAuthorization`]) or the browser
//! with a loopback redirect ([`LoopbackLogin`]). Its [`TokenSet`] goes into
//! a [`TokenStore`] through [`Session::begin`]; later runs (and the chat)
//! use [`Session::open`] and [`Session::valid_access_token`].

pub mod device;
pub mod discovery;
pub mod error;
pub mod loopback;
pub mod refresh;
pub mod session;
pub mod token_store;
pub mod tokens;

pub use device::{DeviceAuthorization, PollPace};
pub use discovery::{InsecureHttp, Provider};
pub use error::AuthError;
pub use loopback::LoopbackLogin;
pub use session::{LogoutOutcome, ReplacedLogin, Session, choose_store, logout};
pub use token_store::{StoreError, StoreKind, TokenKey, TokenStore};
pub use tokens::{AccessClaims, TokenSet};
