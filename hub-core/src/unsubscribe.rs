//! Leaving a channel from a link in a message: the signed unsubscribe token
//! every list message carries (RFC 8058 one-click and the page behind it),
//! and the opt-out it performs.
//!
//! A token names a member and a consent channel and is signed, not stored:
//! it never expires, so a year-old message still works, and using it twice
//! is harmless.

use crate::{
    ids::MemberId,
    model::member::{ConsentChannel, ConsentSource, ConsentStatus, Member, MemberUpdate},
    ports::store::{Store, StoreError},
    signing::Signer,
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

/// The signing purpose of unsubscribe tokens.
pub const PURPOSE: &str = "unsubscribe";
const TAG_LEN: usize = 16;

/// Who leaves which channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnsubscribeToken {
    /// The member.
    pub member: MemberId,
    /// The channel they leave.
    pub channel: ConsentChannel,
}

/// A link that was not made by this hub (or was cut or changed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "this unsubscribe link is not valid: it may have been cut or changed; use the link from a recent message, or ask the list's lead"
)]
pub struct ForgedLink;

impl UnsubscribeToken {
    /// The token as it goes into a URL.
    #[must_use]
    pub fn encode(&self, signer: &Signer) -> String {
        let mut bytes = self.message();
        let tag = signer.tag(&bytes, TAG_LEN);
        bytes.extend(tag);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Reads and checks a token.
    ///
    /// # Errors
    /// [`ForgedLink`] when it is malformed or its signature does not match.
    pub fn decode(signer: &Signer, token: &str) -> Result<Self, ForgedLink> {
        let bytes = URL_SAFE_NO_PAD
            .decode(token.trim())
            .map_err(|_| ForgedLink)?;
        if bytes.len() != 17 + TAG_LEN {
            return Err(ForgedLink);
        }
        let (message, tag) = bytes.split_at(17);
        if !signer.verify(message, tag) {
            return Err(ForgedLink);
        }
        let mut id = [0u8; 16];
        id.copy_from_slice(&message[..16]);
        let channel = *ConsentChannel::ALL
            .get(usize::from(message[16]))
            .ok_or(ForgedLink)?;
        Ok(Self {
            member: MemberId(uuid::Uuid::from_bytes(id)),
            channel,
        })
    }

    fn message(&self) -> Vec<u8> {
        let mut bytes = self.member.0.as_bytes().to_vec();
        let index = ConsentChannel::ALL
            .iter()
            .position(|c| *c == self.channel)
            .unwrap_or_default();
        bytes.push(u8::try_from(index).unwrap_or_default());
        bytes
    }
}

/// What an unsubscribe did.
#[derive(Debug, Clone)]
pub enum Unsubscribed {
    /// They were on the channel and now are not.
    Now(Member),
    /// They had left it already: nothing changed.
    Already(Member),
}

/// Why an unsubscribe did nothing.
#[derive(Debug, thiserror::Error)]
pub enum UnsubscribeError {
    /// The link is not ours.
    #[error(transparent)]
    Forged(#[from] ForgedLink),
    /// The member is gone from the hub (a link from before a reset).
    #[error("this address is not on the list any more")]
    Unknown,
    /// Storage failed; nothing changed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Opts the token's member out of its channel, as the member's own action
/// (audited as theirs). Idempotent. Returns the token as read, with what
/// happened.
///
/// # Errors
/// [`UnsubscribeError`]; in every case nothing else changed.
pub async fn unsubscribe(
    store: &dyn Store,
    signer: &Signer,
    token: &str,
) -> Result<(UnsubscribeToken, Unsubscribed), UnsubscribeError> {
    let token = UnsubscribeToken::decode(signer, token)?;
    let member = store
        .member_by_id(token.member)
        .await?
        .ok_or(UnsubscribeError::Unknown)?;
    Ok((token, opt_out(store, member, token.channel).await?))
}

/// The member leaves a channel by their own action (audited as theirs);
/// leaving twice changes nothing. Every way a member leaves (a link, a
/// mailed request) goes through here.
///
/// # Errors
/// [`StoreError`] when storage fails; nothing changed then.
pub async fn opt_out(
    store: &dyn Store,
    member: Member,
    channel: ConsentChannel,
) -> Result<Unsubscribed, StoreError> {
    if member.consent(channel) == ConsentStatus::OptedOut {
        return Ok(Unsubscribed::Already(member));
    }
    let update = MemberUpdate {
        consents: vec![(channel, ConsentStatus::OptedOut, ConsentSource::Member)],
        ..MemberUpdate::default()
    };
    let actor = crate::access::member_actor(&member.email);
    let changed = crate::roster::change_member(store, member, update, &actor).await?;
    Ok(Unsubscribed::Now(changed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::SecretKeys;

    fn signer() -> (SecretKeys, Signer) {
        let keys = SecretKeys::from_hex_list(&SecretKeys::generate_hex()).unwrap();
        let signer = keys.signer(PURPOSE);
        (keys, signer)
    }

    #[test]
    fn a_token_round_trips_for_every_channel() {
        let (_, signer) = signer();
        for channel in ConsentChannel::ALL {
            let token = UnsubscribeToken {
                member: MemberId::new(),
                channel: *channel,
            };
            let text = token.encode(&signer);
            assert!(text.len() < 50, "{text}");
            assert_eq!(UnsubscribeToken::decode(&signer, &text), Ok(token));
        }
    }

    #[test]
    fn a_changed_or_foreign_token_is_refused() {
        let (_, signer) = signer();
        let token = UnsubscribeToken {
            member: MemberId::new(),
            channel: ConsentChannel::Email,
        };
        let text = token.encode(&signer);
        let other = UnsubscribeToken {
            member: MemberId::new(),
            channel: ConsentChannel::Email,
        }
        .encode(&signer);
        // Another member's id with this token's signature.
        let forged = format!("{}{}", &other[..22], &text[22..]);
        for bad in [
            forged.as_str(),
            &text[..text.len() - 1],
            "",
            "not base64!",
            "AAAA",
        ] {
            assert_eq!(
                UnsubscribeToken::decode(&signer, bad),
                Err(ForgedLink),
                "{bad}"
            );
        }
        let (_, stranger) = self::signer();
        assert_eq!(UnsubscribeToken::decode(&stranger, &text), Err(ForgedLink));
    }
}
