//! Realm roles and the NATS permissions they grant.
//!
//! This table is the single source of truth: the auth callout puts it into
//! user JWTs, and clients use it to explain to a person what they may do.

use serde::{Deserialize, Serialize};

use crate::subject::inbox_prefix;

/// A Keycloak realm role that natschat knows. Other roles grant nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Admin,
    User,
}

impl Role {
    /// Picks the roles natschat knows out of `realm_access.roles`.
    pub fn from_realm_roles<S: AsRef<str>>(roles: &[S]) -> Vec<Role> {
        let mut known: Vec<Role> = roles
            .iter()
            .filter_map(|r| match r.as_ref() {
                "admin" => Some(Role::Admin),
                "user" => Some(Role::User),
                _ => None,
            })
            .collect();
        known.sort();
        known.dedup();
        known
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
        }
    }
}

/// How a user's reply inbox is scoped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InboxMode {
    /// `_INBOX.<user>.>` only: the client sets its inbox prefix.
    #[default]
    PerUser,
    /// Also plain `_INBOX.>`, for browser clients that cannot set an inbox
    /// prefix. Any such user can then read replies meant for others.
    SharedCompat,
}

/// Allow and deny lists for one direction (publish or subscribe), in the
/// shape of a NATS user JWT's `pub` / `sub` objects.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SubjectRules {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
}

/// What a chat user may publish and subscribe to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permissions {
    pub publish: SubjectRules,
    pub subscribe: SubjectRules,
    /// Whether the user may post messages at all (false for read-only users).
    pub can_post: bool,
    /// Whether the user may read and post in the admin channel.
    pub admin_channel: bool,
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

impl Permissions {
    /// Permissions of a user with these natschat roles.
    ///
    /// Every role may request history of ordinary rooms and read every room;
    /// `user` adds posting; `admin` adds the admin channel and `admin.>`.
    /// Nobody may subscribe to `chat.history.>` (only the history daemon
    /// listens there) or touch `$JS.API.>`, `$KV.>`, `$SYS.>`: none of those
    /// is in any allow list, and the first is denied outright as well.
    pub fn for_roles(roles: &[Role], user: &str, inbox: InboxMode) -> Permissions {
        let admin = roles.contains(&Role::Admin);
        let can_post = admin || roles.contains(&Role::User);

        let mut publish = SubjectRules::default();
        if can_post {
            publish.allow.push("chat.*".into());
            // `chat.__admin__` is not the admin channel; keeping it closed
            // stops anyone from posting where admin history might be looked
            // for.
            publish.deny.push("chat.__admin__".into());
        }
        publish.allow.push("chat.history.*".into());
        if admin {
            publish.allow.push("admin.>".into());
        } else {
            publish.deny.push("chat.history.__admin__".into());
        }

        let own_inbox = format!("{}.>", inbox_prefix(user));
        let mut subscribe = SubjectRules {
            allow: strings(&["chat.*"]),
            deny: strings(&["chat.history.>"]),
        };
        if admin {
            subscribe.allow.push("admin.>".into());
        }
        subscribe.allow.push(own_inbox);
        if inbox == InboxMode::SharedCompat {
            subscribe.allow.push("_INBOX.>".into());
        }

        Permissions {
            publish,
            subscribe,
            can_post,
            admin_channel: admin,
        }
    }

    /// The permissions in plain words, for `whoami` and the chat UI.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = vec!["read every room and its history".to_owned()];
        if self.can_post {
            lines.push("post in every room".to_owned());
        } else {
            lines.push("not post: read-only (ask an admin for the 'user' role)".to_owned());
        }
        if self.admin_channel {
            lines.push("read and post in the admin channel".to_owned());
        } else {
            lines.push("not see the admin channel".to_owned());
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_known_roles() {
        assert_eq!(
            Role::from_realm_roles(&["offline_access", "user", "admin", "user"]),
            vec![Role::Admin, Role::User]
        );
        assert!(Role::from_realm_roles::<&str>(&[]).is_empty());
    }

    #[test]
    fn admin_row() {
        let p = Permissions::for_roles(&[Role::Admin, Role::User], "alice", InboxMode::PerUser);
        assert_eq!(p.publish.allow, ["chat.*", "chat.history.*", "admin.>"]);
        assert_eq!(p.publish.deny, ["chat.__admin__"]);
        assert_eq!(p.subscribe.allow, ["chat.*", "admin.>", "_INBOX.alice.>"]);
        assert_eq!(p.subscribe.deny, ["chat.history.>"]);
        assert!(p.can_post && p.admin_channel);
    }

    #[test]
    fn user_row() {
        let p = Permissions::for_roles(&[Role::User], "bob", InboxMode::PerUser);
        assert_eq!(p.publish.allow, ["chat.*", "chat.history.*"]);
        assert_eq!(p.publish.deny, ["chat.__admin__", "chat.history.__admin__"]);
        assert_eq!(p.subscribe.allow, ["chat.*", "_INBOX.bob.>"]);
        assert!(p.can_post && !p.admin_channel);
    }

    #[test]
    fn read_only_row() {
        let p = Permissions::for_roles(&[], "charlie", InboxMode::SharedCompat);
        assert_eq!(p.publish.allow, ["chat.history.*"]);
        assert_eq!(p.publish.deny, ["chat.history.__admin__"]);
        assert_eq!(
            p.subscribe.allow,
            ["chat.*", "_INBOX.charlie.>", "_INBOX.>"]
        );
        assert!(!p.can_post);
        assert!(p.describe().iter().any(|l| l.contains("read-only")));
    }
}
