//! Stored Responses: what `store: true` Responses API calls leave behind, so that
//! `previous_response_id`, `GET /v1/responses/{id}`, its `input_items` and `DELETE` work
//! whatever the target provider keeps — a continued conversation may land on another target.
//! Kept in process with a retention time and a size cap (oldest evicted first).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

/// One stored response: the Response object as the client received it and the full input
/// (earlier turns included) that produced it.
#[derive(Debug, Clone)]
pub struct Stored {
    pub response: Value,
    pub input_items: Vec<Value>,
    at: Instant,
    seq: u64,
}

impl Stored {
    /// The conversation so far: the input, then the response's output items.
    pub fn conversation(&self) -> Vec<Value> {
        let mut items = self.input_items.clone();
        if let Some(out) = self.response.get("output").and_then(Value::as_array) {
            items.extend(out.iter().cloned());
        }
        items
    }
}

#[derive(Debug)]
pub struct ResponseStore {
    map: Mutex<HashMap<String, Stored>>,
    next: std::sync::atomic::AtomicU64,
    retention: Duration,
    max: usize,
}

impl ResponseStore {
    pub fn new(retention: Duration, max: usize) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            next: std::sync::atomic::AtomicU64::new(0),
            retention,
            max: max.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Stored>> {
        match self.map.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    pub fn put(&self, id: String, response: Value, input_items: Vec<Value>) {
        let now = Instant::now();
        let mut map = self.lock();
        map.retain(|_, s| now.duration_since(s.at) < self.retention);
        while map.len() >= self.max {
            let Some(oldest) = map
                .iter()
                .min_by_key(|(_, s)| s.seq)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            map.remove(&oldest);
        }
        let seq = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        map.insert(
            id,
            Stored {
                response,
                input_items,
                at: now,
                seq,
            },
        );
    }

    pub fn get(&self, id: &str) -> Option<Stored> {
        let map = self.lock();
        map.get(id)
            .filter(|s| s.at.elapsed() < self.retention)
            .cloned()
    }

    pub fn delete(&self, id: &str) -> bool {
        self.lock().remove(id).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test(start_paused = true)]
    async fn retention_and_cap() {
        let s = ResponseStore::new(Duration::from_secs(60), 2);
        s.put(
            "a".into(),
            json!({"id": "a", "output": [{"type": "message"}]}),
            vec![json!({"type": "message", "role": "user"})],
        );
        assert_eq!(s.get("a").unwrap().conversation().len(), 2);
        s.put("b".into(), json!({}), vec![]);
        s.put("c".into(), json!({}), vec![]);
        assert!(s.get("a").is_none(), "the oldest is evicted at the cap");
        tokio::time::advance(Duration::from_secs(61)).await;
        assert!(s.get("c").is_none(), "expired");
        assert!(!s.delete("c") || s.get("c").is_none());
    }
}
