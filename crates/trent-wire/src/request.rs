//! Reading a request body into its wire struct: JSON, then the model's
//! constraints. The server does this for every operation before dispatch;
//! [`Operation::parse_and_validate`](crate::Operation::parse_and_validate)
//! does it for an operation chosen at run time (fuzzing, tests).

use serde::de::DeserializeOwned;

use crate::{Validate, ValidationError};

/// Why a request body was refused.
#[derive(Debug)]
pub enum RequestError {
    /// Not JSON, or JSON not of the request's shape (a member of the wrong
    /// type, a blob that is not base64): AWS's `SerializationException`.
    Json(serde_json::Error),
    /// JSON of the right shape whose values break the model's constraints:
    /// AWS's `ValidationException`.
    Invalid(ValidationError),
}

/// Reads `body` as the request `T` and validates it. A body of nothing but
/// ASCII whitespace (an empty one, say) reads as `{}`, as AWS does.
pub fn parse_request<T: DeserializeOwned + Validate>(body: &[u8]) -> Result<T, RequestError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    let request: T = serde_json::from_slice(body).map_err(RequestError::Json)?;
    request.validate().map_err(RequestError::Invalid)?;
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EncryptRequest, ListKeysRequest};

    #[test]
    fn an_empty_or_blank_body_is_an_empty_object() {
        for body in [&b""[..], b" \r\n\t"] {
            let request: ListKeysRequest = parse_request(body).unwrap();
            assert!(request.limit.is_none() && request.marker.is_none());
        }
        assert!(matches!(
            parse_request::<EncryptRequest>(b""),
            Err(RequestError::Invalid(_))
        ));
    }

    #[test]
    fn bad_json_and_bad_values_are_told_apart() {
        assert!(matches!(
            parse_request::<ListKeysRequest>(b"{"),
            Err(RequestError::Json(_))
        ));
        assert!(matches!(
            parse_request::<ListKeysRequest>(br#"{"Limit": "ten"}"#),
            Err(RequestError::Json(_))
        ));
        let Err(RequestError::Invalid(e)) = parse_request::<ListKeysRequest>(br#"{"Limit": 0}"#)
        else {
            panic!("a Limit of 0 is out of range");
        };
        assert_eq!(
            e.message(),
            "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: \
             Member must have value greater than or equal to 1"
        );
    }
}
