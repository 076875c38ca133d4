//! Payments through the host's Stripe connection (WIT `payments`), for modules whose manifest
//! declares `capabilities: &["payments"]`. The module never sees a Stripe key: it names
//! amounts, customers and an idempotency key derived from its own ids
//! (`invoice-<id>-attempt-<n>`), and the host adds the tenant's connected account and the
//! platform key. A retry with the same key (the module's, the host's, a redelivered event's)
//! is Stripe's replay of the first request, never a second charge.
//!
//! Errors convert into the [`Problem`] a client should see, so handlers can use `?`; a
//! handler that must react to a decline (mark the invoice, schedule a retry) matches on
//! [`PaymentError::Declined`] first.

use crate::bindings::verofield::platform::payments as wit;
use crate::problem::Problem;

pub use wit::{
    Customer, Decline, NewCustomer, NewPaymentIntent, PaymentError, PaymentIntent, Refund,
    SetupIntent,
};

/// Creates a PaymentIntent; with a payment method and `off_session`, confirms it at once
/// (autopay). Put the invoice id into `metadata` (`invoice_id`): Stripe's webhooks carry it
/// back in `stripe.payment_intent.*` events.
pub fn create_payment_intent(
    key: &str,
    intent: &NewPaymentIntent,
) -> Result<PaymentIntent, PaymentError> {
    wit::create_payment_intent(key, intent)
}

pub fn retrieve_payment_intent(id: &str) -> Result<PaymentIntent, PaymentError> {
    wit::retrieve_payment_intent(id)
}

pub fn cancel_payment_intent(key: &str, id: &str) -> Result<PaymentIntent, PaymentError> {
    wit::cancel_payment_intent(key, id)
}

/// Refunds what is left of a PaymentIntent, or `amount` minor units of it.
pub fn create_refund(
    key: &str,
    payment_intent: &str,
    amount: Option<i64>,
    metadata: &[(String, String)],
) -> Result<Refund, PaymentError> {
    wit::create_refund(key, payment_intent, amount, metadata)
}

pub fn create_customer(key: &str, customer: &NewCustomer) -> Result<Customer, PaymentError> {
    wit::create_customer(key, customer)
}

pub fn retrieve_customer(id: &str) -> Result<Customer, PaymentError> {
    wit::retrieve_customer(id)
}

/// A SetupIntent for saving the customer's payment method for later off-session charges.
pub fn create_setup_intent(
    key: &str,
    customer: &str,
    metadata: &[(String, String)],
) -> Result<SetupIntent, PaymentError> {
    wit::create_setup_intent(key, customer, metadata)
}

impl From<PaymentError> for Problem {
    /// The usual answer to each error: a decline is the customer's (402 with Stripe's codes),
    /// a missing account the tenant's to fix (409), Stripe's trouble a 503 to retry.
    fn from(error: PaymentError) -> Self {
        match error {
            PaymentError::Declined(decline) => {
                Problem::new(402, "payment_declined", decline.message)
                    .with("decline_code", decline.decline_code)
                    .with("stripe_code", decline.code)
            }
            PaymentError::NotConfigured(why) => Problem::new(409, "payments_not_configured", why),
            PaymentError::Invalid(why) => Problem::new(422, "payment_invalid", why),
            PaymentError::RateLimited => Problem::new(
                503,
                "payments_unavailable",
                "Stripe is rate limiting; retry shortly",
            ),
            PaymentError::Unavailable(why) => Problem::new(503, "payments_unavailable", why),
            PaymentError::NotGranted(why) => Problem::internal(&format!("payments: {why}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decline_is_a_402_with_stripes_codes() {
        let problem = Problem::from(PaymentError::Declined(Decline {
            code: "card_declined".into(),
            decline_code: Some("insufficient_funds".into()),
            message: "Your card has insufficient funds.".into(),
        }));
        assert_eq!((problem.status, problem.code), (402, "payment_declined"));
        assert_eq!(problem.members["decline_code"], "insufficient_funds");
    }

    #[test]
    fn the_other_errors_keep_their_kind() {
        let status = |error| Problem::from(error).status;
        assert_eq!(
            status(PaymentError::NotConfigured("no account".into())),
            409
        );
        assert_eq!(status(PaymentError::Invalid("amount".into())), 422);
        assert_eq!(status(PaymentError::RateLimited), 503);
    }
}
