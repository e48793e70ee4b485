//! The authentication matrix: every endpoint × every kind of caller (no key, a wrong key,
//! another tenant's virtual key, the owner's virtual key, a master key, the admin key), each
//! with its expected status and the error body in the endpoint's own wire format. Run on
//! the two usual deployments: master keys beside virtual keys, and virtual keys alone (the
//! multi-tenant set-up, where nothing may answer without a key).

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers: a failed unwrap is the test failing"
)]

mod common;

use common::*;
use modelmux_sim::Behaviour;
use serde_json::{Value, json};

const ADMIN: &str = "adm-secret-0123456789";
const MASTER: &str = "mk-master-0123456789";
const ANALYTICS: &str = "ana-secret-0123456789";
const FEEDBACK: &str = "[feedback]\nsecret = \"feedback-secret-0123456789abcdef\"\n[[metrics]]\nname = \"thumbs\"\ntype = \"boolean\"\nlevel = \"request\"\noptimize = \"max\"\n";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    NoKey,
    Wrong,
    Other,
    Owner,
    Master,
    Admin,
    /// The read-only `[keys] analytics_key`.
    Analytics,
}

const EVERYONE: [Who; 7] = [
    Who::NoKey,
    Who::Wrong,
    Who::Other,
    Who::Owner,
    Who::Master,
    Who::Admin,
    Who::Analytics,
];

/// Who may use an endpoint.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// Anyone, even without a key.
    Public,
    /// Any client key (a virtual key within its routes, or a master key).
    Client,
    /// A stored item: its owner only; anyone else with a valid key gets 404.
    Owned,
    /// The admin key only.
    Admin,
    /// `POST /v1/feedback`: any client key (202), or a feedback token without a key.
    Feedback,
    /// `GET /v1/analytics`: the admin key or the analytics key.
    Analytics,
}

struct Deployment {
    gw: modelmux_core::RunningGateway,
    owner: String,
    other: String,
    masters: bool,
    /// A stored response of the owner's.
    response_id: String,
    /// A key id the admin may revoke and rotate.
    spare_key: String,
    /// The feedback token of the owner's stored response, and that answer's request id.
    token: String,
    token_request: String,
}

async fn create_key(gw: &modelmux_core::RunningGateway, name: &str) -> Value {
    let resp = client()
        .post(format!("{}/admin/keys", gw.url()))
        .bearer_auth(ADMIN)
        .body(json!({ "name": name }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    json_of(resp).await
}

async fn deployment(masters: bool) -> Deployment {
    let s = sim(&[("m", Behaviour::default())]).await;
    let master_line = if masters {
        format!("[server]\nmaster_keys = [\"{MASTER}\"]\n")
    } else {
        String::new()
    };
    let gw = gateway(&format!(
        "{master_line}[keys]\nadmin_key = \"{ADMIN}\"\nanalytics_key = \"{ANALYTICS}\"\n{}\n[[routes]]\nname = \"r\"\ntargets = [\"a/m\"]\n{FEEDBACK}",
        providers(&[("a", &s)])
    ))
    .await;
    let owner = create_key(&gw, "owner").await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = create_key(&gw, "other").await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let spare_key = create_key(&gw, "spare").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let resp = client()
        .post(format!("{}/v1/responses", gw.url()))
        .bearer_auth(&owner)
        .body(json!({"model": "r", "input": "Remember the word teal."}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let token = resp.headers()["x-modelmux-feedback-token"]
        .to_str()
        .unwrap()
        .to_owned();
    let token_request = resp.headers()["x-modelmux-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let response_id = json_of(resp).await["id"].as_str().unwrap().to_owned();
    Deployment {
        gw,
        owner,
        other,
        masters,
        response_id,
        spare_key,
        token,
        token_request,
    }
}

struct Endpoint {
    method: &'static str,
    path: String,
    body: Option<Value>,
    kind: Kind,
}

fn endpoints(d: &Deployment) -> Vec<Endpoint> {
    let chat = json!({"model": "r", "messages": [{"role": "user", "content": "hi"}]});
    let msg =
        json!({"model": "r", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]});
    let count = json!({"model": "r", "messages": [{"role": "user", "content": "hi"}]});
    let resp = json!({"model": "r", "input": "hi", "store": false});
    let id = &d.response_id;
    let e = |method, path: &str, body: Option<&Value>, kind| Endpoint {
        method,
        path: path.to_owned(),
        body: body.cloned(),
        kind,
    };
    vec![
        e("GET", "/healthz", None, Kind::Public),
        e("GET", "/readyz", None, Kind::Public),
        e("POST", "/v1/chat/completions", Some(&chat), Kind::Client),
        e("POST", "/chat/completions", Some(&chat), Kind::Client),
        e("POST", "/v1/messages", Some(&msg), Kind::Client),
        e(
            "POST",
            "/v1/messages/count_tokens",
            Some(&count),
            Kind::Client,
        ),
        e("POST", "/v1/responses", Some(&resp), Kind::Client),
        e("POST", "/responses", Some(&resp), Kind::Client),
        e("POST", "/v1/route/explain", Some(&chat), Kind::Client),
        e("GET", "/v1/health/targets", None, Kind::Client),
        e(
            "POST",
            "/v1/feedback",
            Some(&json!({"request_id": "req_any", "metric": "thumbs", "value": true})),
            Kind::Feedback,
        ),
        e("GET", "/v1/models", None, Kind::Client),
        e("GET", "/models", None, Kind::Client),
        e("GET", &format!("/v1/responses/{id}"), None, Kind::Owned),
        e(
            "GET",
            &format!("/v1/responses/{id}/input_items"),
            None,
            Kind::Owned,
        ),
        e("GET", "/v1/analytics", None, Kind::Analytics),
        e(
            "GET",
            "/v1/analytics?by=key&per=episode",
            None,
            Kind::Analytics,
        ),
        e("GET", "/admin/keys", None, Kind::Admin),
        e("GET", "/admin/spend/keys", None, Kind::Admin),
        e("GET", "/admin/spend/teams", None, Kind::Admin),
        e("GET", "/admin/limits", None, Kind::Admin),
        e(
            "POST",
            &format!("/admin/keys/{}/rotate", d.spare_key),
            None,
            Kind::Admin,
        ),
    ]
}

fn key_of(d: &Deployment, who: Who) -> Option<&str> {
    match who {
        Who::NoKey => None,
        Who::Wrong => Some("mmx-not-a-key-at-all-0000"),
        Who::Other => Some(&d.other),
        Who::Owner => Some(&d.owner),
        Who::Master => Some(MASTER),
        Who::Admin => Some(ADMIN),
        Who::Analytics => Some(ANALYTICS),
    }
}

/// The status `who` gets from an endpoint of `kind`.
fn expected(kind: Kind, who: Who) -> u16 {
    match (kind, who) {
        (Kind::Public, _) => 200,
        (_, Who::NoKey | Who::Wrong) => 401,
        (Kind::Analytics, Who::Admin | Who::Analytics) => 200,
        (Kind::Analytics, _) => 401,
        (_, Who::Analytics) => 401,
        (Kind::Client, Who::Other | Who::Owner | Who::Master) => 200,
        (Kind::Client, Who::Admin) => 401,
        (Kind::Owned, Who::Owner) => 200,
        (Kind::Owned, Who::Other | Who::Master) => 404,
        (Kind::Owned, Who::Admin) => 401,
        (Kind::Feedback, Who::Other | Who::Owner | Who::Master) => 202,
        (Kind::Feedback, Who::Admin) => 401,
        (Kind::Admin, Who::Admin) => 200,
        (Kind::Admin, _) => 401,
    }
}

async fn call(d: &Deployment, e: &Endpoint, key: Option<&str>) -> reqwest::Response {
    let url = format!("{}{}", d.gw.url(), e.path);
    let mut req = match e.method {
        "GET" => client().get(url),
        "DELETE" => client().delete(url),
        _ => client().post(url),
    };
    if let Some(k) = key {
        // The Anthropic SDK's header for Messages, a bearer token elsewhere.
        req = if e.path.starts_with("/v1/messages") {
            req.header("x-api-key", k)
        } else {
            req.bearer_auth(k)
        };
    }
    if let Some(b) = &e.body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    req.send().await.unwrap()
}

/// The error body is in the endpoint's wire format, with the code a client can act on.
fn check_error_shape(e: &Endpoint, status: u16, v: &Value, what: &str) {
    if e.path.starts_with("/v1/messages") {
        assert_eq!(v["type"], "error", "{what}: {v}");
        let kind = v["error"]["type"].as_str().unwrap_or_default();
        let want = if status == 401 {
            "authentication_error"
        } else {
            "not_found_error"
        };
        assert_eq!(kind, want, "{what}: {v}");
    } else {
        let err = &v["error"];
        assert!(
            err["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: {v}"
        );
        if status == 401 {
            assert_eq!(err["code"], "invalid_api_key", "{what}: {v}");
        }
        if status == 404 {
            // The same body as an id that never existed: nothing reveals that it does.
            assert!(!err["message"].to_string().contains("owner"), "{what}: {v}");
        }
    }
}

async fn run_matrix(d: &Deployment) {
    let mut failures = Vec::new();
    let mut checked = 0;
    for e in endpoints(d) {
        for who in EVERYONE {
            if who == Who::Master && !d.masters {
                continue;
            }
            let want = expected(e.kind, who);
            let resp = call(d, &e, key_of(d, who)).await;
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap();
            checked += 1;
            let what = format!("{} {} as {who:?}", e.method, e.path);
            if status != want {
                failures.push(format!("{what}: {status}, expected {want}: {text}"));
                continue;
            }
            if want >= 400 {
                let v: Value = serde_json::from_str(&text)
                    .unwrap_or_else(|_| panic!("{what}: not JSON: {text}"));
                check_error_shape(&e, status, &v, &what);
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked > 80, "{checked} cases");
}

/// `DELETE` of a stored response: only the owner's succeeds; anyone else cannot tell it
/// from one that never existed.
async fn deletion(d: &Deployment) {
    let path = format!("/v1/responses/{}", d.response_id);
    let e = Endpoint {
        method: "DELETE",
        path: path.clone(),
        body: None,
        kind: Kind::Owned,
    };
    let missing = Endpoint {
        method: "DELETE",
        path: "/v1/responses/resp_never_was".into(),
        body: None,
        kind: Kind::Owned,
    };
    let never = call(d, &missing, Some(&d.owner)).await;
    assert_eq!(never.status(), 404);
    let never_body: Value = json_of(never).await;
    for who in [
        Who::NoKey,
        Who::Wrong,
        Who::Other,
        Who::Master,
        Who::Admin,
        Who::Analytics,
    ] {
        if who == Who::Master && !d.masters {
            continue;
        }
        let resp = call(d, &e, key_of(d, who)).await;
        let want = expected(Kind::Owned, who);
        assert_eq!(resp.status().as_u16(), want, "DELETE as {who:?}");
        if want == 404 {
            let mut v: Value = json_of(resp).await;
            let mut n = never_body.clone();
            // The id is named in each message; everything else is alike.
            v["error"]["message"] = json!("");
            n["error"]["message"] = json!("");
            assert_eq!(v, n, "DELETE as {who:?}");
        }
    }
    let resp = call(d, &e, Some(&d.owner)).await;
    assert_eq!(resp.status(), 200, "the owner deletes");
    let again = call(d, &e, Some(&d.owner)).await;
    assert_eq!(again.status(), 404, "gone");
}

/// `/v1/feedback` without a key: a valid feedback token (the answer's) is let in, for its
/// own request only; a forged or missing one is 401. A token opens no other path.
async fn feedback_tokens(d: &Deployment) {
    let request_id = &d.token_request;
    let post = |token: Option<&str>, body: Value| {
        let mut req = client()
            .post(format!("{}/v1/feedback", d.gw.url()))
            .body(body.to_string());
        if let Some(t) = token {
            req = req.header("x-modelmux-feedback-token", t);
        }
        req.send()
    };
    let own = json!({"request_id": request_id, "metric": "thumbs", "value": true});
    let resp = post(Some(&d.token), own.clone()).await.unwrap();
    assert_eq!(resp.status(), 202, "{}", resp.text().await.unwrap());
    let foreign = json!({"request_id": "req_someone_else", "metric": "thumbs", "value": true});
    let resp = post(Some(&d.token), foreign).await.unwrap();
    assert_eq!(resp.status(), 401);
    let mut forged = d.token.clone().into_bytes();
    let last = forged.len() - 1;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let resp = post(Some(&forged), own.clone()).await.unwrap();
    assert_eq!(resp.status(), 401);
    let v = json_of(resp).await;
    assert_eq!(v["error"]["code"], "invalid_api_key", "{v}");
    assert_eq!(post(None, own).await.unwrap().status(), 401);
    // The token is no API key anywhere else.
    let resp = client()
        .get(format!("{}/v1/models", d.gw.url()))
        .header("x-modelmux-feedback-token", &d.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn master_and_virtual_keys() {
    let d = deployment(true).await;
    run_matrix(&d).await;
    deletion(&d).await;
    feedback_tokens(&d).await;
}

#[tokio::test]
async fn virtual_keys_only_nothing_answers_without_a_key() {
    let d = deployment(false).await;
    run_matrix(&d).await;
    deletion(&d).await;
    feedback_tokens(&d).await;
}

/// A continuation names the earlier response: only its owner may continue it.
#[tokio::test]
async fn previous_response_id_is_the_owners() {
    let d = deployment(false).await;
    let body =
        json!({"model": "r", "input": "And the word?", "previous_response_id": d.response_id});
    for (key, want) in [(&d.other, 404), (&d.owner, 200)] {
        let resp = client()
            .post(format!("{}/v1/responses", d.gw.url()))
            .bearer_auth(key)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status().as_u16(),
            want,
            "{}",
            resp.text().await.unwrap()
        );
    }
}

/// Keys see only their allowed routes in the model list and in explain.
#[tokio::test]
async fn keys_see_their_routes_only() {
    let s = sim(&[("m", Behaviour::default())]).await;
    let gw = gateway(&format!(
        "[keys]\nadmin_key = \"{ADMIN}\"\n{}\n[[routes]]\nname = \"r\"\ntargets = [\"a/m\"]\n[[routes]]\nname = \"secret\"\ntargets = [\"a/m\"]\n",
        providers(&[("a", &s)])
    ))
    .await;
    let resp = client()
        .post(format!("{}/admin/keys", gw.url()))
        .bearer_auth(ADMIN)
        .body(json!({"name": "k", "allowed": ["r"]}).to_string())
        .send()
        .await
        .unwrap();
    let key = json_of(resp).await["key"].as_str().unwrap().to_owned();
    let models = json_of(
        client()
            .get(format!("{}/v1/models", gw.url()))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert_eq!(ids, ["r"], "{models}");
    let explain = |model: &str| {
        client()
            .post(format!("{}/v1/route/explain", gw.url()))
            .bearer_auth(&key)
            .body(
                json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})
                    .to_string(),
            )
            .send()
    };
    assert_eq!(explain("r").await.unwrap().status(), 200);
    assert_eq!(explain("secret").await.unwrap().status(), 404);
}
