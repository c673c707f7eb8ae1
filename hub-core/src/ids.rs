//! Typed identifiers, so a member id can never be passed where a community id
//! is expected. All are UUIDv7: time-ordered, which keeps B-tree inserts local.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            #[must_use]
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// A login.
    UserId
);
id_type!(
    /// A community.
    CommunityId
);
id_type!(
    /// A person in one community.
    MemberId
);
id_type!(
    /// A connection of a community to one external tool.
    ChannelId
);
id_type!(
    /// An announcement.
    AnnouncementId
);
id_type!(
    /// One announcement's delivery to one channel.
    DeliveryId
);
id_type!(
    /// A scheduled call.
    CallId
);
id_type!(
    /// A peer conference.
    ConferenceId
);
id_type!(
    /// A channel's sync schedule.
    SyncJobId
);
id_type!(
    /// One run of a sync job.
    SyncRunId
);
id_type!(
    /// An API bearer token (its id, never its secret).
    ApiTokenId
);
id_type!(
    /// A room of a peer conference.
    RoomId
);
id_type!(
    /// A time slot of a peer conference.
    SlotId
);
id_type!(
    /// One person's registration for a peer conference.
    RegistrationId
);
id_type!(
    /// A session proposed for a peer conference.
    ProposalId
);
