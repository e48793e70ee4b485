//! An Anthropic provider's `base_url` as users write it: the form the Anthropic SDK and
//! `ANTHROPIC_BASE_URL` use (no `/v1`) and the versioned form both reach `/v1/messages`.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "a test: a failed unwrap is the test failing"
)]

mod common;

use common::*;
use modelmux_sim::Behaviour;

#[tokio::test]
async fn both_forms_of_an_anthropic_base_url_work() {
    let s = sim(&[("claude-m", Behaviour::default())]).await;
    for base in [
        s.root_url(),
        format!("{}/", s.root_url()),
        format!("{}/v1", s.root_url()),
    ] {
        let gw = gateway(&format!(
            "[providers.a]\nkind = \"anthropic\"\nbase_url = \"{base}\"\napi_key = \"k\"\n\
             [[routes]]\nname = \"r\"\ntargets = [\"a/claude-m\"]\nnum_retries = 0\n"
        ))
        .await;
        let resp = post(&gw, &chat("r")).await;
        assert_eq!(resp.status(), 200, "{base}: {}", body_text(resp).await);
        gw.shutdown().await.unwrap();
    }
    assert_eq!(s.requests("claude-m"), 3);
}
