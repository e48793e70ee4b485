//! The demo's support tickets, planned up front from the seed: each ticket's kind (a billing
//! FAQ, an account question, a policy-sensitive edge case), the route it is sent to, how many
//! turns it takes (1–4), which turns stream, what the customer writes on each turn, and the
//! uniform draw that decides whether the answer resolved it; each scenario goes to every
//! route once. Everything random is drawn
//! here, before any request is sent, so the plan (and with it the demo's table) does not
//! depend on the order in which concurrent tickets finish.

/// A ticket's intent, as the gateway's `[[intents]]` name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    Billing,
    Account,
    Policy,
}

impl Intent {
    pub const ALL: [Intent; 3] = [Intent::Billing, Intent::Account, Intent::Policy];

    pub fn name(self) -> &'static str {
        match self {
            Intent::Billing => "billing",
            Intent::Account => "account",
            Intent::Policy => "policy",
        }
    }

    /// What the customer writes on `turn` (0-based); each text carries the intent's keywords,
    /// since the gateway classifies the last user message.
    fn message(self, variant: usize, turn: usize) -> String {
        let (first, follow): (&[&str], &[&str]) = match self {
            Intent::Billing => (
                &[
                    "Where can I download the invoice for last month?",
                    "I was charged twice this month, can I get a refund?",
                    "Which payment methods do you accept for billing?",
                    "My receipt shows the wrong company name.",
                ],
                &[
                    "Thanks. And the invoice for the month before?",
                    "The refund has not arrived yet, what now?",
                    "Can the billing address differ from the payment card?",
                ],
            ),
            Intent::Account => (
                &[
                    "I cannot log in to my account since this morning.",
                    "How do I change the email address of my account?",
                    "I lost my phone and cannot pass two-factor login.",
                    "How do I add a colleague to my account?",
                ],
                &[
                    "I tried that, the login still fails.",
                    "The account page shows no such option.",
                    "Will my account keep its history?",
                ],
            ),
            Intent::Policy => (
                &[
                    "Under GDPR, please delete my data and confirm in writing.",
                    "Is it legal for you to share my usage data with partners?",
                    "What is your data retention period for closed accounts under GDPR?",
                    "My chargeback dispute is open; does your privacy policy let you keep my card?",
                ],
                &[
                    "That does not answer the legal question.",
                    "Which GDPR article does that rely on?",
                    "Please escalate: this is a privacy complaint.",
                ],
            ),
        };
        if turn == 0 {
            first[variant % first.len()].to_owned()
        } else {
            follow[(variant + turn - 1) % follow.len()].to_owned()
        }
    }
}

/// One planned ticket.
#[derive(Debug, Clone, PartialEq)]
pub struct Ticket {
    /// The episode id (`x-modelmux-episode`).
    pub id: String,
    /// The route the client asks for (`model`).
    pub route: &'static str,
    pub intent: Intent,
    /// The customer's message on each turn (1 to 4 of them).
    pub messages: Vec<String>,
    /// Which turns stream.
    pub stream: Vec<bool>,
    /// The uniform draw in [0, 1) the resolution verdict compares with the answering model's
    /// probability for this intent.
    pub draw: f64,
}

/// The share of tickets of each kind, in percent: mostly FAQs, some account questions, a
/// fifth policy-sensitive edge cases.
const MIX: [(Intent, u32); 3] = [
    (Intent::Billing, 50),
    (Intent::Account, 30),
    (Intent::Policy, 20),
];

/// `n` tickets spread evenly over `routes` (round robin), kinds, turns and verdict draws
/// from `seed`. Each scenario (kind, messages, streaming, draw) is sent once on every route,
/// under its own ticket id: the routes see the same tickets, and a verdict differs between
/// two routes only where their models do (common random numbers), so the comparison is not
/// drowned in the noise of which tickets each route happened to get.
pub fn plan(n: usize, routes: &[&'static str], stream_percent: u32, seed: u64) -> Vec<Ticket> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let per = routes.len().max(1);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let slot = rng.u32(0..100);
        let mut acc = 0;
        let intent = MIX
            .iter()
            .find(|(_, share)| {
                acc += share;
                slot < acc
            })
            .map_or(Intent::Billing, |(i, _)| *i);
        let turns = rng.usize(1..=4);
        let variant = rng.usize(..);
        let messages: Vec<String> = (0..turns).map(|t| intent.message(variant, t)).collect();
        let stream: Vec<bool> = (0..turns)
            .map(|_| rng.u32(0..100) < stream_percent)
            .collect();
        let draw = rng.f64();
        for r in 0..per {
            if out.len() == n {
                break;
            }
            out.push(Ticket {
                id: format!("ticket-{:04}", out.len() + 1),
                route: routes.get(r).copied().unwrap_or("support"),
                intent,
                messages: messages.clone(),
                stream: stream.clone(),
                draw,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_are_seeded_balanced_and_one_to_four_turns() {
        let a = plan(300, &["cheap", "strong", "support"], 30, 7);
        assert_eq!(a, plan(300, &["cheap", "strong", "support"], 30, 7));
        assert_ne!(a, plan(300, &["cheap", "strong", "support"], 30, 8));
        for route in ["cheap", "strong", "support"] {
            assert_eq!(a.iter().filter(|t| t.route == route).count(), 100);
        }
        assert!(a.iter().all(|t| (1..=4).contains(&t.messages.len())));
        assert!(a.iter().all(|t| t.stream.len() == t.messages.len()));
        // Every route gets the same scenarios.
        for three in a.chunks(3) {
            assert_eq!(three[0].messages, three[2].messages);
            assert_eq!(three[0].draw, three[1].draw);
            assert_eq!(three[1].intent, three[2].intent);
        }
        for (intent, share) in MIX {
            let n = a.iter().filter(|t| t.intent == intent).count() as f64 / 3.0;
            assert!((n - f64::from(share)).abs() < 12.0, "{intent:?}: {n}");
        }
        let none = plan(50, &["cheap"], 0, 1);
        assert!(none.iter().all(|t| t.stream.iter().all(|s| !s)));
    }
}
