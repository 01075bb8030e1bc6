//! A consensus store for lease arbitration, as the node sees it through
//! etcd's v3 JSON gateway: one linearizable key space with leases, that
//! may be down as a whole or cut off from some hosts. Requests that cannot
//! reach it time out; the others are applied when they arrive.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{Value, json};

use crate::lease::etcd::{self, base64, unbase64};
use crate::vrrp::Instant;

#[derive(Clone, Debug, Default)]
pub struct Store {
    /// lease id -> (TTL in seconds, expiry)
    pub(crate) leases: BTreeMap<i64, (i64, Instant)>,
    /// key -> (value, lease)
    keys: BTreeMap<String, (String, i64)>,
    next_lease: i64,
    revision: i64,
    /// The whole store is down.
    pub down: bool,
    /// Hosts that cannot reach the store's majority.
    pub cut: BTreeSet<String>,
}

impl Store {
    pub fn reachable(&self, host: &str) -> bool {
        !self.down && !self.cut.contains(host)
    }

    /// Who holds `key` now (after expiring leases).
    pub fn holder(&mut self, key: &str, now: Instant) -> Option<String> {
        self.expire(now);
        self.keys.get(key).map(|(v, _)| v.clone())
    }

    fn expire(&mut self, now: Instant) {
        let gone: Vec<i64> = self
            .leases
            .iter()
            .filter(|(_, (_, exp))| *exp <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            self.revoke(id);
        }
    }

    fn revoke(&mut self, id: i64) -> bool {
        self.keys.retain(|_, (_, l)| *l != id);
        self.leases.remove(&id).is_some()
    }

    /// Applies one request; the status and body the gateway would answer.
    pub fn handle(&mut self, now: Instant, path: &str, body: &str) -> (u16, String) {
        self.expire(now);
        let not_found = (
            404,
            json!({"error": "etcdserver: requested lease not found", "code": 5}).to_string(),
        );
        let Ok(req) = serde_json::from_str::<Value>(body) else {
            return (400, json!({"error": "bad json", "code": 3}).to_string());
        };
        let id_of = |v: &Value| -> i64 {
            match v.get("ID") {
                Some(Value::String(s)) => s.parse().unwrap_or(0),
                Some(v) => v.as_i64().unwrap_or(0),
                None => 0,
            }
        };
        match path {
            etcd::GRANT => {
                let ttl = req.get("TTL").and_then(Value::as_i64).unwrap_or(0).max(1);
                self.next_lease += 1;
                let id = 0x1000 + self.next_lease;
                self.leases
                    .insert(id, (ttl, now + Duration::from_secs(ttl as u64)));
                (
                    200,
                    json!({"ID": id.to_string(), "TTL": ttl.to_string()}).to_string(),
                )
            }
            etcd::KEEPALIVE => {
                let id = id_of(&req);
                match self.leases.get_mut(&id) {
                    Some((ttl, exp)) => {
                        *exp = now + Duration::from_secs(*ttl as u64);
                        (
                            200,
                            json!({"result": {"ID": id.to_string(), "TTL": ttl.to_string()}})
                                .to_string()
                                + "\n",
                        )
                    }
                    None => (
                        200,
                        json!({"result": {"ID": id.to_string()}}).to_string() + "\n",
                    ),
                }
            }
            etcd::REVOKE => {
                if self.revoke(id_of(&req)) {
                    (200, json!({"header": {}}).to_string())
                } else {
                    not_found
                }
            }
            etcd::TXN => {
                let put = &req["success"][0]["request_put"];
                let key = put["key"]
                    .as_str()
                    .and_then(unbase64)
                    .map(|k| String::from_utf8_lossy(&k).into_owned());
                let value = put["value"]
                    .as_str()
                    .and_then(unbase64)
                    .map(|k| String::from_utf8_lossy(&k).into_owned());
                let lease: i64 = put["lease"]
                    .as_str()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                let (Some(key), Some(value)) = (key, value) else {
                    return (400, json!({"error": "bad txn", "code": 3}).to_string());
                };
                if let Some((v, l)) = self.keys.get(&key) {
                    let kv = json!({"key": base64(key.as_bytes()), "value": base64(v.as_bytes()), "lease": l.to_string()});
                    return (
                        200,
                        json!({"responses": [{"response_range": {"kvs": [kv], "count": "1"}}]})
                            .to_string(),
                    );
                }
                if !self.leases.contains_key(&lease) {
                    return not_found;
                }
                self.revision += 1;
                self.keys.insert(key, (value, lease));
                (
                    200,
                    json!({"succeeded": true, "responses": [{"response_put": {}}]}).to_string(),
                )
            }
            _ => (404, "not found".into()),
        }
    }
}
