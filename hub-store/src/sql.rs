//! SQL that both backends run as it is: sqlx binds `$1`-style parameters on
//! SQLite too. Backend-specific statements stay in their own module.

use hub_core::model::member::MemberQuery;

pub(crate) const MEMBER_COLUMNS: &str = "m.id, m.community_id, m.email, m.email_display, m.name, m.role, m.state, m.created_at, m.updated_at";

pub(crate) const INSERT_USER: &str = "INSERT INTO users (id, email, email_display, password_hash, is_owner, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6) \
     RETURNING id, email, email_display, password_hash, is_owner, created_at";
pub(crate) const USER_BY_EMAIL: &str = "SELECT id, email, email_display, password_hash, is_owner, created_at FROM users WHERE email = $1";
pub(crate) const COUNT_USERS: &str = "SELECT COUNT(*) FROM users";

pub(crate) const DELETE_SETUP_TOKENS: &str = "DELETE FROM setup_tokens";
pub(crate) const INSERT_SETUP_TOKEN: &str =
    "INSERT INTO setup_tokens (token_hash, expires_at) VALUES ($1, $2)";
pub(crate) const SPEND_SETUP_TOKEN: &str =
    "DELETE FROM setup_tokens WHERE token_hash = $1 AND expires_at > $2";
pub(crate) const VALID_SETUP_TOKEN: &str =
    "SELECT COUNT(*) FROM setup_tokens WHERE token_hash = $1 AND expires_at > $2";

pub(crate) const INSERT_SESSION: &str =
    "INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at) VALUES ($1, $2, $3, $4)";
/// A live session's user, and when the session was last marked used.
pub(crate) const SESSION_USER: &str = "SELECT u.id, u.email, u.email_display, u.password_hash, u.is_owner, \
     u.created_at, s.last_seen_at FROM sessions s JOIN users u ON u.id = s.user_id \
     WHERE s.id_hash = $1 AND s.last_seen_at > $2 AND s.created_at > $3";
pub(crate) const MARK_SESSION_USED: &str =
    "UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1";
pub(crate) const DELETE_SESSION: &str = "DELETE FROM sessions WHERE id_hash = $1";
pub(crate) const DELETE_DEAD_SESSIONS: &str =
    "DELETE FROM sessions WHERE last_seen_at <= $1 OR created_at <= $2";

pub(crate) const INSERT_API_TOKEN: &str = "INSERT INTO api_tokens (id, user_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4, $5)";
pub(crate) const USER_BY_API_TOKEN: &str = "SELECT u.id, u.email, u.email_display, u.password_hash, u.is_owner, u.created_at \
     FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1";
/// The columns and join an [`ApiTokenRow`](crate::rows::ApiTokenRow) reads.
macro_rules! api_token_select {
    () => {
        "SELECT t.id, t.user_id, u.email, u.email_display, t.name, t.created_at \
         FROM api_tokens t JOIN users u ON u.id = t.user_id"
    };
}
pub(crate) const ALL_API_TOKENS: &str = concat!(
    api_token_select!(),
    " ORDER BY t.created_at DESC, t.id DESC"
);
/// `$1` user.
pub(crate) const API_TOKENS_OF_USER: &str = concat!(
    api_token_select!(),
    " WHERE t.user_id = $1 ORDER BY t.created_at DESC, t.id DESC"
);
/// `$1` token id.
pub(crate) const API_TOKEN_BY_ID: &str = concat!(api_token_select!(), " WHERE t.id = $1");
pub(crate) const DELETE_API_TOKEN: &str = "DELETE FROM api_tokens WHERE id = $1";

pub(crate) const ALL_USERS: &str = "SELECT id, email, email_display, password_hash, is_owner, created_at FROM users ORDER BY email";
/// The owners' ids; `{lock}` is where PostgreSQL locks their rows (in id
/// order, so two lockers never deadlock), so concurrent owner changes are
/// counted one after the other.
pub(crate) const OWNERS: &str = "SELECT id FROM users WHERE is_owner ORDER BY id{lock}";
/// `$1` user, `$2` whether it is an owner.
pub(crate) const SET_OWNER: &str = "UPDATE users SET is_owner = $2 WHERE id = $1 \
     RETURNING id, email, email_display, password_hash, is_owner, created_at";
pub(crate) const COMMUNITY_LEADS: &str = "SELECT c.id AS community_id, c.slug AS community_slug, \
     c.name AS community_name, m.id AS member_id, m.email, m.email_display, m.name \
     FROM members m JOIN communities c ON c.id = m.community_id \
     WHERE m.role = 'lead' AND m.state = 'active' ORDER BY c.name, c.slug, m.email";

pub(crate) const INSERT_COMMUNITY: &str = "INSERT INTO communities (id, slug, name, timezone, created_at) \
     VALUES ($1, $2, $3, $4, $5) RETURNING id, slug, name, timezone, created_at, archive";
pub(crate) const COMMUNITY_BY_SLUG: &str =
    "SELECT id, slug, name, timezone, created_at, archive FROM communities WHERE slug = $1";
pub(crate) const ALL_COMMUNITIES: &str =
    "SELECT id, slug, name, timezone, created_at, archive FROM communities ORDER BY name, slug";
/// `$2` who may read the archive.
pub(crate) const SET_ARCHIVE_VISIBILITY: &str = "UPDATE communities SET archive = $2 WHERE id = $1 \
     RETURNING id, slug, name, timezone, created_at, archive";
pub(crate) const COMMUNITIES_LED_BY: &str = "SELECT c.id, c.slug, c.name, c.timezone, c.created_at, c.archive \
     FROM communities c JOIN members m ON m.community_id = c.id \
     WHERE m.email = $1 AND m.role = 'lead' AND m.state = 'active' ORDER BY c.name, c.slug";

pub(crate) const INSERT_MEMBER: &str = "INSERT INTO members \
     (id, community_id, email, email_display, name, name_lower, role, state, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', $8, $8)";
pub(crate) const MEMBER_BY_ID: &str = "SELECT m.id, m.community_id, m.email, m.email_display, m.name, m.role, m.state, \
     m.created_at, m.updated_at FROM members m WHERE m.community_id = $1 AND m.id = $2";
pub(crate) const COMMUNITY_OF_MEMBER: &str = "SELECT community_id FROM members WHERE id = $1";
pub(crate) const CONSENTS_OF_MEMBER: &str = "SELECT member_id, channel, status, changed_at, source FROM member_consents WHERE member_id = $1";
pub(crate) const ALL_MEMBERS: &str = "SELECT m.id, m.community_id, m.email, m.email_display, m.name, m.role, m.state, \
     m.created_at, m.updated_at FROM members m WHERE m.community_id = $1 ORDER BY m.email";
pub(crate) const ALL_CONSENTS: &str = "SELECT c.member_id, c.channel, c.status, c.changed_at, c.source \
     FROM member_consents c JOIN members m ON m.id = c.member_id WHERE m.community_id = $1";
pub(crate) const UPDATE_MEMBER: &str = "UPDATE members SET \
     name = COALESCE($3, name), name_lower = COALESCE($4, name_lower), \
     role = COALESCE($5, role), state = COALESCE($6, state), updated_at = $7 \
     WHERE community_id = $1 AND id = $2";
pub(crate) const UPSERT_CONSENT: &str = "INSERT INTO member_consents (member_id, channel, status, changed_at, source) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (member_id, channel) DO UPDATE \
     SET status = excluded.status, changed_at = excluded.changed_at, source = excluded.source, \
     delivery_disabled_at = NULL";

/// `$1` member: the bounce record and whether email delivery is disabled.
/// `{lock}` is the backend's row lock.
pub(crate) const BOUNCE_RECORD: &str = "SELECT b.score, b.last_bounce_on, b.last_reason, b.counted, c.delivery_disabled_at \
     FROM bounce_scores b LEFT JOIN member_consents c ON c.member_id = b.member_id AND c.channel = 'email' \
     WHERE b.member_id = $1{lock}";
pub(crate) const UPSERT_BOUNCE: &str = "INSERT INTO bounce_scores (member_id, score, last_bounce_on, last_reason, counted) \
     VALUES ($1, $2, $3, $4, 1) ON CONFLICT (member_id) DO UPDATE SET score = excluded.score, \
     last_bounce_on = excluded.last_bounce_on, last_reason = excluded.last_reason, counted = bounce_scores.counted + 1";
/// `$1` member, `$2` now.
pub(crate) const DISABLE_EMAIL_DELIVERY: &str = "UPDATE member_consents SET delivery_disabled_at = $2 \
     WHERE member_id = $1 AND channel = 'email' AND delivery_disabled_at IS NULL";

/// `$1` member.
pub(crate) const RESUME_EMAIL_DELIVERY: &str = "UPDATE member_consents SET delivery_disabled_at = NULL WHERE member_id = $1 AND channel = 'email'";
pub(crate) const FORGET_BOUNCES: &str = "DELETE FROM bounce_scores WHERE member_id = $1";

pub(crate) const INSERT_MEMBER_LINK: &str = "INSERT INTO member_links \
     (token_hash, purpose, community_id, email, email_display, name, created_at, expires_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
/// `$1` hash, `$2` purpose, `$3` now.
pub(crate) const MEMBER_LINK: &str = "SELECT purpose, community_id, email_display, name, expires_at \
     FROM member_links WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3";
pub(crate) const SPEND_MEMBER_LINK: &str = "UPDATE member_links SET used_at = $3 \
     WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3 \
     RETURNING purpose, community_id, email_display, name, expires_at";
pub(crate) const RECENT_MEMBER_LINKS: &str = "SELECT COUNT(*) FROM member_links \
     WHERE community_id = $1 AND email = $2 AND purpose = $3 AND created_at > $4";

pub(crate) const INSERT_AUDIT: &str = "INSERT INTO audit_events \
     (seq, at, actor, action, community_id, subject, details, prev_hash, hash) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
pub(crate) const AUDIT_FROM: &str = "SELECT seq, at, actor, action, community_id, subject, details, prev_hash, hash \
     FROM audit_events WHERE seq >= $1 ORDER BY seq LIMIT $2";

pub(crate) const CHANNEL_COLUMNS: &str = "id, community_id, kind, name, settings, secret, health, last_error, min_interval_ms, created_at";
pub(crate) const INSERT_CHANNEL: &str = "INSERT INTO channels \
     (id, community_id, kind, name, settings, secret, health, min_interval_ms, next_send_at, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, 'ok', $7, $9, $8) \
     RETURNING id, community_id, kind, name, settings, secret, health, last_error, min_interval_ms, created_at";
pub(crate) const CHANNELS_OF: &str = "SELECT id, community_id, kind, name, settings, secret, health, last_error, \
     min_interval_ms, created_at FROM channels WHERE community_id = $1 ORDER BY created_at";
/// `$2` a new encrypted secret, or null to keep the one it has.
pub(crate) const RECONNECT_CHANNEL: &str = "UPDATE channels SET health = 'ok', last_error = NULL, \
     secret = COALESCE($2, secret) WHERE id = $1 \
     RETURNING id, community_id, kind, name, settings, secret, health, last_error, min_interval_ms, created_at";
pub(crate) const CHANGE_CHANNEL_SETTINGS: &str = "UPDATE channels SET settings = $2 WHERE id = $1 \
     RETURNING id, community_id, kind, name, settings, secret, health, last_error, min_interval_ms, created_at";
pub(crate) const CLAIM_SECRET_REFRESH: &str = "UPDATE channels SET secret_lease_owner = $2, \
     secret_lease_until = $4 WHERE id = $1 AND (secret_lease_until IS NULL OR secret_lease_until < $3)";
pub(crate) const STORE_REFRESHED_SECRET: &str = "UPDATE channels SET secret = $2, \
     secret_lease_owner = NULL, secret_lease_until = NULL WHERE id = $1 AND secret_lease_owner = $3";
pub(crate) const RELEASE_SECRET_REFRESH: &str = "UPDATE channels SET secret_lease_owner = NULL, \
     secret_lease_until = NULL WHERE id = $1 AND secret_lease_owner = $2";
pub(crate) const CLAIM_INVITATION: &str = "INSERT INTO channel_invitations (channel_id, email, sent_at) \
     VALUES ($1, $2, $3) ON CONFLICT (channel_id, email) DO NOTHING";
pub(crate) const FORGET_INVITATION: &str =
    "DELETE FROM channel_invitations WHERE channel_id = $1 AND email = $2";
pub(crate) const RECORD_GROUP_DEPARTURE: &str = "INSERT INTO group_departures \
     (channel_id, group_id, external_id, left_at) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (channel_id, group_id, external_id) DO UPDATE SET left_at = excluded.left_at";
pub(crate) const FORGET_GROUP_DEPARTURE: &str = "DELETE FROM group_departures \
     WHERE channel_id = $1 AND group_id = $2 AND external_id = $3";
pub(crate) const GROUP_DEPARTURES: &str = "SELECT group_id, external_id FROM group_departures \
     WHERE channel_id = $1 ORDER BY group_id, external_id";
pub(crate) const SET_CHANNEL_HEALTH: &str =
    "UPDATE channels SET health = $2, last_error = $3 WHERE id = $1";
pub(crate) const HOLD_CHANNEL: &str =
    "UPDATE channels SET next_send_at = $2 WHERE id = $1 AND next_send_at < $2";
pub(crate) const SET_NEXT_SEND: &str = "UPDATE channels SET next_send_at = $2 WHERE id = $1";
pub(crate) const NEXT_SEND: &str = "SELECT next_send_at FROM channels WHERE id = $1";
pub(crate) const CHANNEL_OF_COMMUNITY: &str =
    "SELECT COUNT(*) FROM channels WHERE id = $1 AND community_id = $2";

/// An announcement's columns, as [`crate::rows::AnnouncementRow`] reads them.
macro_rules! announcement_columns {
    () => {
        "id, community_id, title, body_markdown, author, send_at, created_at, revision, retracted_at"
    };
}
pub(crate) use announcement_columns;
/// A delivery's columns, as [`crate::rows::DeliveryRow`] reads them.
macro_rules! delivery_columns {
    () => {
        "id, announcement_id, channel_id, action, state, attempts, next_attempt_at, lease_until, \
         remote_ref, last_error, possible_duplicates"
    };
}
pub(crate) use delivery_columns;

pub(crate) const INSERT_ANNOUNCEMENT: &str = concat!(
    "INSERT INTO announcements \
     (id, community_id, title, body_markdown, author, send_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
     RETURNING ",
    announcement_columns!()
);
/// `$4` the action, `$5` when it is due, `$6` now.
pub(crate) const INSERT_DELIVERY: &str = concat!(
    "INSERT INTO deliveries \
     (id, announcement_id, channel_id, action, state, attempts, next_attempt_at, updated_at) \
     VALUES ($1, $2, $3, $4, 'pending', 0, $5, $6) RETURNING ",
    delivery_columns!()
);
pub(crate) const DELIVERIES_OF: &str = concat!(
    "SELECT ",
    delivery_columns!(),
    " FROM deliveries WHERE announcement_id = $1 ORDER BY channel_id, action, next_attempt_at"
);
pub(crate) const ANNOUNCEMENT: &str = concat!(
    "SELECT ",
    announcement_columns!(),
    " FROM announcements WHERE id = $1"
);
pub(crate) const ANNOUNCEMENTS_OF: &str = concat!(
    "SELECT ",
    announcement_columns!(),
    " FROM announcements WHERE community_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
);
/// The archive's first page: `$1` community, `$2` now, `$3` limit. What went
/// out is due (`send_at`, else when written, by now) and not retracted;
/// the expression matches the index `announcements_archive`.
pub(crate) const ARCHIVE_FIRST: &str = concat!(
    "SELECT ",
    announcement_columns!(),
    " FROM announcements WHERE community_id = $1 AND retracted_at IS NULL \
     AND COALESCE(send_at, created_at) <= $2 \
     ORDER BY COALESCE(send_at, created_at) DESC, id DESC LIMIT $3"
);
/// The archive after a page: as [`ARCHIVE_FIRST`], after `$4` (when it went
/// out) and `$5` (id).
pub(crate) const ARCHIVE_AFTER: &str = concat!(
    "SELECT ",
    announcement_columns!(),
    " FROM announcements WHERE community_id = $1 AND retracted_at IS NULL \
     AND COALESCE(send_at, created_at) <= $2 \
     AND (COALESCE(send_at, created_at) < $4 OR (COALESCE(send_at, created_at) = $4 AND id < $5)) \
     ORDER BY COALESCE(send_at, created_at) DESC, id DESC LIMIT $3"
);
/// `$2` title, `$3` body: a new revision.
pub(crate) const EDIT_ANNOUNCEMENT: &str = concat!(
    "UPDATE announcements SET title = $2, body_markdown = $3, revision = revision + 1 \
     WHERE id = $1 RETURNING ",
    announcement_columns!()
);
/// `$2` when.
pub(crate) const RETRACT_ANNOUNCEMENT: &str = concat!(
    "UPDATE announcements SET retracted_at = $2 WHERE id = $1 RETURNING ",
    announcement_columns!()
);
/// `$2` now. Only a failed or dead delivery is sent again.
pub(crate) const RETRY_DELIVERY: &str = concat!(
    "UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = $2, updated_at = $2 \
     WHERE id = $1 AND state IN ('failed', 'dead') RETURNING ",
    delivery_columns!()
);
pub(crate) const DELIVERY_COMMUNITY: &str = "SELECT a.community_id FROM deliveries d \
     JOIN announcements a ON a.id = d.announcement_id WHERE d.id = $1";
/// `$2` now: a retried delivery's failed recipients are tried again too.
pub(crate) const RETRY_RECIPIENTS: &str = "UPDATE recipients SET state = 'pending', attempts = 0, \
     next_attempt_at = $2 WHERE delivery_id = $1 AND state IN ('failed', 'dead')";
/// `$1` delivery, `$2` consent channel, `$3` now: its community's active
/// members subscribed to the channel, unless the delivery has its rows.
pub(crate) const EXPAND_RECIPIENTS: &str = "INSERT INTO recipients \
     (delivery_id, member_id, email, name, state, attempts, next_attempt_at) \
     SELECT d.id, m.id, m.email_display, m.name, 'pending', 0, $3 FROM deliveries d \
     JOIN announcements a ON a.id = d.announcement_id \
     JOIN members m ON m.community_id = a.community_id AND m.state = 'active' \
     JOIN member_consents c ON c.member_id = m.id AND c.channel = $2 AND c.status = 'subscribed' \
       AND c.delivery_disabled_at IS NULL \
     WHERE d.id = $1 AND d.recipients_total IS NULL ON CONFLICT DO NOTHING";
pub(crate) const SET_RECIPIENTS_TOTAL: &str = "UPDATE deliveries SET recipients_total = \
     (SELECT COUNT(*) FROM recipients WHERE delivery_id = $1) WHERE id = $1 AND recipients_total IS NULL";
pub(crate) const RECIPIENTS_TOTAL: &str = "SELECT recipients_total FROM deliveries WHERE id = $1";
/// Whether the recipient row's member is still active and subscribed to
/// consent channel `{consent}` (a placeholder: each query binds its own).
macro_rules! still_subscribed {
    ($consent:literal) => {
        concat!(
            "EXISTS (SELECT 1 FROM members m JOIN member_consents c ON c.member_id = m.id \
             WHERE m.id = recipients.member_id AND m.state = 'active' AND c.channel = ",
            $consent,
            " AND c.status = 'subscribed' AND c.delivery_disabled_at IS NULL)"
        )
    };
}
/// `$1` delivery, `$2` consent channel, `$3` now: those not reached who
/// opted out or left (waiting, or held by a worker whose lease ran out).
pub(crate) const CANCEL_GONE_RECIPIENTS: &str = concat!(
    "UPDATE recipients SET state = 'cancelled', last_error = 'opted out, left or bounced before their turn' \
     WHERE delivery_id = $1 \
       AND (state IN ('pending', 'retry_wait') OR (state = 'sending' AND lease_until < $3)) \
       AND NOT ",
    still_subscribed!("$2")
);
/// `$1` delivery, `$2` now, `$3` owner, `$4` lease end, `$5` how many, `$6`
/// the consent channel: only people still subscribed are picked. The
/// redundant `state IN (…)` lets the planner walk the partial index
/// `recipients_due` in `next_attempt_at` order and stop at the limit: without
/// it SQLite checked and sorted all 10,000 rows of a list for every batch
/// (9 ms a claim, against 0.15 ms).
/// `{lock}` is the backend's row lock for the inner select. The pick is
/// materialized: PostgreSQL may run an `IN (… LIMIT …)` subquery more than
/// once inside the update and so claim more than `$5` (a test caught it).
pub(crate) const CLAIM_RECIPIENTS: &str = concat!(
    "WITH picked AS MATERIALIZED (SELECT member_id FROM recipients \
       WHERE delivery_id = $1 AND state IN ('pending', 'retry_wait', 'sending') \
         AND ((state IN ('pending', 'retry_wait') AND next_attempt_at <= $2) \
         OR (state = 'sending' AND lease_until < $2)) AND ",
    still_subscribed!("$6"),
    " ORDER BY next_attempt_at LIMIT $5{lock}) \
     UPDATE recipients SET state = 'sending', attempts = attempts + 1, \
     lease_owner = $3, lease_until = $4, \
     possible_duplicates = possible_duplicates + CASE WHEN state = 'sending' THEN 1 ELSE 0 END \
     WHERE delivery_id = $1 AND member_id IN (SELECT member_id FROM picked) \
     RETURNING delivery_id, member_id, email, name, state, attempts, possible_duplicates"
);
/// As [`FINISH_DELIVERY`], for `$1` delivery and `$2` member: `$3` owner,
/// `$4` state, `$5` remote ref, `$6` error, `$7` next attempt, `$8` refund,
/// `$9` possible duplicates added.
pub(crate) const FINISH_RECIPIENT: &str = "UPDATE recipients SET state = $4, remote_ref = COALESCE($5, remote_ref), \
     last_error = $6, next_attempt_at = COALESCE($7, next_attempt_at), attempts = attempts - $8, \
     possible_duplicates = possible_duplicates + $9, lease_owner = NULL, lease_until = NULL \
     WHERE delivery_id = $1 AND member_id = $2 AND lease_owner = $3 AND state = 'sending'";
/// [`FINISH_RECIPIENT`] for many recipients at once on PostgreSQL: `$1` delivery, `$2`
/// owner, `$3` a JSON array of `{m: member, s: state, r: remote ref, e:
/// error, n: next attempt, f: refund, d: possible duplicates added}`.
pub(crate) const FINISH_RECIPIENTS_BULK_PG: &str = "UPDATE recipients AS t SET state = x.s, \
     remote_ref = COALESCE(x.r, t.remote_ref), last_error = x.e, \
     next_attempt_at = COALESCE(x.n, t.next_attempt_at), attempts = t.attempts - x.f, \
     possible_duplicates = t.possible_duplicates + x.d, lease_owner = NULL, lease_until = NULL \
     FROM jsonb_to_recordset($3::text::jsonb) AS x(m uuid, s text, r text, e text, n timestamptz, f int, d int) \
     WHERE t.delivery_id = $1 AND t.member_id = x.m AND t.lease_owner = $2 AND t.state = 'sending'";
pub(crate) const RECIPIENT_COUNTS: &str = "SELECT state, COUNT(*), COALESCE(SUM(possible_duplicates), 0) \
     FROM recipients WHERE delivery_id = $1 GROUP BY state";
/// When the next of a delivery's recipients can be claimed: a waiting one's
/// next attempt, or a held one's lease end (its worker may have died).
pub(crate) const NEXT_RECIPIENT_DUE: &str = "SELECT MIN(CASE WHEN state = 'sending' THEN lease_until \
     ELSE next_attempt_at END) FROM recipients \
     WHERE delivery_id = $1 AND state IN ('pending', 'retry_wait', 'sending')";
/// `$2` why, `$3` now.
pub(crate) const CANCEL_DELIVERY: &str = "UPDATE deliveries SET state = 'cancelled', last_error = $2, \
     updated_at = $3 WHERE id = $1 AND state IN ('pending', 'retry_wait', 'failed', 'dead')";
pub(crate) const RENEW_LEASE: &str = "UPDATE deliveries SET lease_until = $3 WHERE id = $1 AND lease_owner = $2 AND state = 'sending'";
/// `$3` state, `$4` remote ref, `$5` error, `$6` next attempt, `$7` attempts
/// refunded, `$8` possible duplicates added, `$9` now.
pub(crate) const FINISH_DELIVERY: &str = "UPDATE deliveries SET state = $3, remote_ref = COALESCE($4, remote_ref), \
     last_error = $5, next_attempt_at = COALESCE($6, next_attempt_at), attempts = attempts - $7, \
     possible_duplicates = possible_duplicates + $8, lease_owner = NULL, lease_until = NULL, updated_at = $9 \
     WHERE id = $1 AND lease_owner = $2 AND state = 'sending'";
pub(crate) const OUTBOX_SUMMARY: &str =
    "SELECT state, COUNT(*), COALESCE(SUM(possible_duplicates), 0) FROM deliveries GROUP BY state";
/// Deliveries by channel kind and state, for `/metrics`.
pub(crate) const DELIVERY_COUNTS: &str = "SELECT c.kind, d.state, COUNT(*) FROM deliveries d \
     JOIN channels c ON c.id = d.channel_id GROUP BY c.kind, d.state";
/// Sync runs by channel kind and state, for `/metrics`.
pub(crate) const SYNC_RUN_COUNTS: &str = "SELECT c.kind, r.state, COUNT(*) FROM sync_runs r \
     JOIN sync_jobs j ON j.id = r.job_id JOIN channels c ON c.id = j.channel_id \
     GROUP BY c.kind, r.state";

/// The rows of [`DELIVERY_COUNTS`] and [`SYNC_RUN_COUNTS`] as the port's
/// `WorkCounts`.
pub(crate) fn work_counts(
    deliveries: Vec<(String, String, i64)>,
    sync_runs: Vec<(String, String, i64)>,
) -> hub_core::ports::store::WorkCounts {
    let keyed = |rows: Vec<(String, String, i64)>| {
        rows.into_iter()
            .map(|(kind, state, count)| ((kind, state), count.unsigned_abs()))
            .collect()
    };
    hub_core::ports::store::WorkCounts {
        deliveries: keyed(deliveries),
        sync_runs: keyed(sync_runs),
    }
}
/// Which deliveries are due: `$1` now, at most `$4`. Both backends splice in
/// their row lock as `{lock}` and wrap it in their own claim.
///
/// Waiting work and expired leases are looked up apart, each in its own
/// index (`deliveries_due` in `next_attempt_at` order, so the first rows
/// are the answer), then merged. One query with `OR` between the two made
/// both databases collect and sort every due delivery on each claim
/// (PostgreSQL: 12 to 22 ms per claim with 20,000 waiting, against 0.2 ms
/// this way; SQLite: 8 ms with 8,879 waiting, against under 1 ms).
pub(crate) const DUE_DELIVERIES: &str = "SELECT id FROM (\
     SELECT id, next_attempt_at FROM (SELECT d.id, d.next_attempt_at \
       FROM deliveries d JOIN channels c ON c.id = d.channel_id \
       WHERE d.state IN ('pending', 'retry_wait') AND d.next_attempt_at <= $1 \
         AND c.health <> 'needs_reconnect' AND c.next_send_at <= $1 \
       ORDER BY d.next_attempt_at LIMIT $4{lock}) waiting \
     UNION ALL \
     SELECT id, next_attempt_at FROM (SELECT d.id, d.next_attempt_at \
       FROM deliveries d JOIN channels c ON c.id = d.channel_id \
       WHERE d.state = 'sending' AND d.lease_until < $1 \
         AND c.health <> 'needs_reconnect' AND c.next_send_at <= $1 \
       ORDER BY d.next_attempt_at LIMIT $4{lock}) expired\
     ) due ORDER BY next_attempt_at LIMIT $4";
/// Claims what [`DUE_DELIVERIES`] selects (spliced in as `{due}`,
/// materialized so it runs once, see [`CLAIM_RECIPIENTS`]): `$2` owner, `$3`
/// lease end. A re-claimed `sending` delivery was in flight when
/// its worker died, so it may have been sent: counted as a possible duplicate.
pub(crate) const CLAIM_TEMPLATE: &str = concat!(
    "WITH due AS MATERIALIZED ({due}) \
     UPDATE deliveries SET state = 'sending', attempts = attempts + 1, \
     lease_owner = $2, lease_until = $3, updated_at = $1, \
     possible_duplicates = possible_duplicates + CASE WHEN state = 'sending' THEN 1 ELSE 0 END \
     WHERE id IN (SELECT id FROM due) RETURNING ",
    delivery_columns!()
);

/// The columns [`FINISH_DELIVERY`] sets for an outcome.
pub(crate) struct FinishColumns<'a> {
    pub(crate) state: &'static str,
    pub(crate) remote_ref: Option<&'a str>,
    pub(crate) error: Option<&'a str>,
    pub(crate) next_attempt_at: Option<chrono::DateTime<chrono::Utc>>,
    pub(crate) refund: i32,
    pub(crate) duplicates: i32,
}

impl<'a> FinishColumns<'a> {
    pub(crate) fn of(finish: &'a hub_core::outbox::Finish) -> Self {
        use hub_core::outbox::Finish;
        let failed = |state, error: &'a String| Self {
            state,
            remote_ref: None,
            error: Some(error.as_str()),
            next_attempt_at: None,
            refund: 0,
            duplicates: 0,
        };
        match finish {
            Finish::Sent {
                remote_ref,
                possible_duplicate,
            } => Self {
                state: "sent",
                remote_ref: Some(remote_ref.as_str()),
                error: None,
                next_attempt_at: None,
                refund: 0,
                duplicates: i32::from(*possible_duplicate),
            },
            Finish::Retry {
                at,
                error,
                refund_attempt,
                possible_duplicate,
            } => Self {
                state: "retry_wait",
                remote_ref: None,
                error: Some(error.as_str()),
                next_attempt_at: Some(*at),
                refund: i32::from(*refund_attempt),
                duplicates: i32::from(*possible_duplicate),
            },
            Finish::Failed { error } => failed("failed", error),
            Finish::Dead { error } => failed("dead", error),
            Finish::Cancelled { reason } => failed("cancelled", reason),
        }
    }
}

pub(crate) const CHANNEL_BY_ID: &str = "SELECT id, community_id, kind, name, settings, secret, health, last_error, \
     min_interval_ms, created_at FROM channels WHERE id = $1";
pub(crate) const INSERT_SYNC_JOB: &str = "INSERT INTO sync_jobs \
     (id, channel_id, direction, cron, max_remove_fraction, max_remove_count, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7) \
     RETURNING id, channel_id, direction, cron, max_remove_fraction, max_remove_count, last_seen, created_at";
pub(crate) const SYNC_JOBS: &str = "SELECT id, channel_id, direction, cron, max_remove_fraction, max_remove_count, \
     last_seen, created_at FROM sync_jobs ORDER BY created_at";
pub(crate) const SYNC_JOB_OF: &str = "SELECT id, channel_id, direction, cron, max_remove_fraction, max_remove_count, \
     last_seen, created_at FROM sync_jobs WHERE channel_id = $1";
pub(crate) const CHANGE_SYNC_DIRECTION: &str = "UPDATE sync_jobs SET direction = $2 \
     WHERE channel_id = $1 \
     RETURNING id, channel_id, direction, cron, max_remove_fraction, max_remove_count, last_seen, created_at";
pub(crate) const MEMBER_JOIN_LINKS: &str =
    "SELECT call_id, join_url FROM call_invitations WHERE member_id = $1 AND join_url IS NOT NULL";
pub(crate) const LINK_CHANNEL_ACCOUNT: &str = "INSERT INTO channel_account_links \
     (channel_id, external_id, member_id, linked_at) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (channel_id, external_id) DO UPDATE SET member_id = excluded.member_id, \
       linked_at = excluded.linked_at";
pub(crate) const MEMBER_ACCOUNT_LINKS: &str = "SELECT channel_id, external_id \
     FROM channel_account_links WHERE member_id = $1 ORDER BY linked_at";
pub(crate) const CHANNEL_ACCOUNT_LINKS: &str = "SELECT l.external_id, m.email \
     FROM channel_account_links l JOIN members m ON m.id = l.member_id \
     WHERE l.channel_id = $1 ORDER BY l.external_id";
pub(crate) const SET_LAST_SEEN: &str = "UPDATE sync_jobs SET last_seen = $2 WHERE id = $1";
pub(crate) const UPSERT_SYNC_RUN: &str = "INSERT INTO sync_runs \
     (id, job_id, state, plan, counts, error, started_at, finished_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
     ON CONFLICT (id) DO UPDATE SET state = excluded.state, plan = excluded.plan, counts = excluded.counts, \
     error = excluded.error, finished_at = excluded.finished_at";
pub(crate) const SYNC_RUNS: &str = "SELECT id, job_id, state, plan, counts, error, started_at, finished_at \
     FROM sync_runs WHERE job_id = $1 ORDER BY started_at DESC, id DESC LIMIT $2";
pub(crate) const SYNC_RUN: &str = "SELECT id, job_id, state, plan, counts, error, started_at, finished_at \
     FROM sync_runs WHERE id = $1";
pub(crate) const LAST_TICK: &str = "SELECT MAX(tick) FROM cron_claims WHERE job_id = $1";
pub(crate) const COMMUNITY_BY_ID: &str =
    "SELECT id, slug, name, timezone, created_at, archive FROM communities WHERE id = $1";
pub(crate) const CLAIM_TICK: &str =
    "INSERT INTO cron_claims (job_id, tick, claimed_by) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
/// The members of `$1` with their consent for channel `$2`, as a sync needs them.
pub(crate) const SYNC_ROSTER: &str = "SELECT m.id, m.email, m.email_display, m.name, m.state, \
     COALESCE(c.status, 'none') AS consent FROM members m \
     LEFT JOIN member_consents c ON c.member_id = m.id AND c.channel = $2 WHERE m.community_id = $1";
/// The members of `$1` with their consent for every channel, in
/// `HubRoster::CHANNELS` order: one pass over the consents, grouped by member
/// (four lookups per member cost PostgreSQL a second for 100,000).
macro_rules! sync_roster_all_consents {
    () => {
        "COALESCE(MAX(CASE WHEN c.channel = 'email' THEN c.status END), 'none') AS c1, \
         COALESCE(MAX(CASE WHEN c.channel = 'slack' THEN c.status END), 'none') AS c2, \
         COALESCE(MAX(CASE WHEN c.channel = 'zoom' THEN c.status END), 'none') AS c3, \
         COALESCE(MAX(CASE WHEN c.channel = 'conference' THEN c.status END), 'none') AS c4"
    };
}
pub(crate) const SYNC_ROSTER_ALL: &str = concat!(
    "SELECT m.id, m.email, m.email_display, m.name, m.state, ",
    sync_roster_all_consents!(),
    " FROM members m LEFT JOIN member_consents c ON c.member_id = m.id \
     WHERE m.community_id = $1 GROUP BY m.id"
);
/// [`SYNC_ROSTER_ALL`] as one JSON array of arrays (SQLite: see `sync_roster`).
pub(crate) const SYNC_ROSTER_ALL_JSON: &str = concat!(
    "SELECT json_group_array(json_array(id, email, email_display, name, state, c1, c2, c3, c4)) FROM (\
     SELECT lower(hex(m.id)) AS id, m.email, m.email_display, m.name, m.state, ",
    sync_roster_all_consents!(),
    " FROM members m LEFT JOIN member_consents c ON c.member_id = m.id \
     WHERE m.community_id = $1 GROUP BY m.id)"
);
/// Adds a member a sync found, unless the community has them already.
pub(crate) const INSERT_MEMBER_IF_NEW: &str = "INSERT INTO members \
     (id, community_id, email, email_display, name, name_lower, role, state, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, 'member', 'active', $7, $7) ON CONFLICT (community_id, email) DO NOTHING";
pub(crate) const MEMBER_ID_BY_EMAIL: &str =
    "SELECT id FROM members WHERE community_id = $1 AND email = $2";
/// A sync's consent change, which never touches an opt-out.
pub(crate) const SYNC_CONSENT: &str = "INSERT INTO member_consents (member_id, channel, status, changed_at, source) \
     VALUES ($1, $2, $3, $4, 'sync') ON CONFLICT (member_id, channel) DO UPDATE \
     SET status = excluded.status, changed_at = excluded.changed_at, source = excluded.source \
     WHERE member_consents.status <> 'opted_out'";

/// Rows per bulk insert of an import (one JSON parameter each).
pub(crate) const BULK_CHUNK: usize = 10_000;

/// One page of a roster: SQL whose `$1` is the community id and whose
/// further parameters are the texts, in order.
#[derive(Debug)]
pub(crate) struct RosterQuery {
    pub(crate) sql: String,
    pub(crate) texts: Vec<String>,
}

/// How a backend searches "email name" for a substring with its trigram index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Search {
    /// SQLite: the FTS5 trigram table `members_search`.
    Fts5Trigram,
    /// PostgreSQL: the pg_trgm GIN index on `email || ' ' || name_lower`.
    PgTrigram,
}

/// Trigram indexes need at least three characters; shorter terms scan.
const TRIGRAM: usize = 3;

/// Builds the roster query for the filters that are set, so each shape of
/// query gets its own plan and uses the `(community_id, email)` index for
/// order and cursor. The limit is one more than asked, to see if a next page exists.
pub(crate) fn roster(query: &MemberQuery, search_with: Search) -> RosterQuery {
    let mut texts = Vec::new();
    // Binds a value and returns its placeholder; `$1` is the community id.
    let mut param = |value: String| {
        texts.push(value);
        format!("${}", texts.len() + 1)
    };
    let mut sql = format!("SELECT {MEMBER_COLUMNS} FROM members m WHERE m.community_id = $1");
    if let Some(after) = &query.after {
        sql.push_str(&format!(" AND m.email > {}", param(after.clone())));
    }
    if let Some(role) = query.role {
        sql.push_str(&format!(
            " AND m.role = {}",
            param(role.as_str().to_owned())
        ));
    }
    if let Some(state) = query.state {
        sql.push_str(&format!(
            " AND m.state = {}",
            param(state.as_str().to_owned())
        ));
    }
    if let Some(search) = query
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let term = search.to_lowercase();
        if term.chars().count() < TRIGRAM {
            let p = param(format!("%{}%", escape_like(&term)));
            sql.push_str(&format!(
                " AND (m.email LIKE {p} ESCAPE '\\' OR m.name_lower LIKE {p} ESCAPE '\\')"
            ));
        } else if search_with == Search::Fts5Trigram {
            // A quoted phrase is a substring match under the trigram tokenizer.
            let p = param(format!("\"{}\"", term.replace('"', "\"\"")));
            sql.push_str(&format!(
                " AND m.rowid IN (SELECT rowid FROM members_search WHERE members_search MATCH {p})"
            ));
        } else {
            let p = param(format!("%{}%", escape_like(&term)));
            sql.push_str(&format!(
                " AND (m.email || ' ' || m.name_lower) LIKE {p} ESCAPE '\\'"
            ));
        }
    }
    if let Some((channel, status)) = query.consent {
        let channel_param = param(channel.as_str().to_owned());
        // Semi-joins, which both planners walk in email order and stop at the
        // page's end; "none" is the absence of a row, or a row saying none.
        if status == hub_core::model::member::ConsentStatus::None {
            sql.push_str(&format!(
                " AND NOT EXISTS (SELECT 1 FROM member_consents c \
                 WHERE c.member_id = m.id AND c.channel = {channel_param} AND c.status <> 'none')"
            ));
        } else {
            let status_param = param(status.as_str().to_owned());
            sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM member_consents c \
                 WHERE c.member_id = m.id AND c.channel = {channel_param} AND c.status = {status_param})"
            ));
        }
    }
    if let Some(channel) = query.absent {
        let channel_param = param(channel.as_str().to_owned());
        sql.push_str(&format!(
            " AND NOT EXISTS (SELECT 1 FROM member_consents a \
             WHERE a.member_id = m.id AND a.channel = {channel_param} AND a.status = 'subscribed')"
        ));
    }
    sql.push_str(&format!(
        " ORDER BY m.email LIMIT {}",
        query.limit.clamp(1, 500) + 1
    ));
    RosterQuery { sql, texts }
}

fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

pub(crate) const CHANNELS_OF_KIND: &str = "SELECT id, community_id, kind, name, settings, secret, health, last_error, \
     min_interval_ms, created_at FROM channels WHERE kind = $1 ORDER BY created_at";

pub(crate) const INSERT_INBOUND_EVENT: &str = "INSERT INTO inbound_events \
     (source, event_id, routing_key, kind, payload, received_at) VALUES ($1, $2, $3, $4, $5, $6) \
     ON CONFLICT (source, event_id) DO NOTHING";
pub(crate) const FINISH_INBOUND_EVENT: &str = "UPDATE inbound_events SET processed_at = $3, outcome = $4 \
     WHERE source = $1 AND event_id = $2";
pub(crate) const UNPROCESSED_INBOUND_EVENTS: &str = "SELECT source, event_id, routing_key, kind, payload, \
     received_at, processed_at, outcome FROM inbound_events \
     WHERE processed_at IS NULL AND source = $1 AND received_at < $2 ORDER BY received_at LIMIT $3";

// Calls and their landings.

pub(crate) const CALL_COLUMNS: &str = "id, community_id, title, agenda, starts_at_local, timezone, \
     duration_minutes, rrule, overrides, cancelled_occurrences, registration, status, \
     zoom_meeting_id, join_url, recording_url, sequence, created_at";
/// `$1`–`$12` as [`bind_call!`] binds them, then the community, the
/// meeting, its link, the recording and the creation time.
pub(crate) const INSERT_CALL: &str = "INSERT INTO calls (id, title, agenda, \
     starts_at_local, timezone, duration_minutes, rrule, overrides, cancelled_occurrences, \
     registration, status, sequence, community_id, zoom_meeting_id, join_url, recording_url, \
     created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)";

/// Binds what a person sets of a call, in the order [`INSERT_CALL`] and
/// [`UPDATE_CALL`] take it (`$1`–`$12`): the id, title, agenda, local
/// start, zone, length, rule, overrides, cancelled occurrences,
/// registration, status and sequence. One list for both backends.
macro_rules! bind_call {
    ($query:expr, $call:expr, $columns:expr) => {
        $query
            .bind($call.id.0)
            .bind(&$call.title)
            .bind(&$call.agenda)
            .bind(&$columns.starts_at_local)
            .bind($call.timezone.name())
            .bind($columns.duration_minutes)
            .bind(&$columns.rrule)
            .bind(&$columns.overrides)
            .bind(&$columns.cancelled_occurrences)
            .bind($call.registration)
            .bind($call.status.as_str())
            .bind($columns.sequence)
    };
}
pub(crate) use bind_call;
/// `$1` call, `$2` channel, `$3` due, `$4` the call's community: a channel
/// of another community inserts nothing.
pub(crate) const INSERT_CALL_LANDING: &str = "INSERT INTO call_landings \
     (call_id, channel_id, revision, pending, state, next_attempt_at) \
     SELECT $1, id, 1, '[\"series\"]', 'pending', $3 FROM channels WHERE id = $2 AND community_id = $4";
/// What a person changes of a call; the meeting, its link and the recording
/// are the channels' to set ([`SET_CALL_JOIN`]), so a change made from a copy
/// read before Zoom answered never erases them.
pub(crate) const UPDATE_CALL: &str = "UPDATE calls SET title = $2, agenda = $3, \
     starts_at_local = $4, timezone = $5, duration_minutes = $6, rrule = $7, overrides = $8, \
     cancelled_occurrences = $9, registration = $10, status = $11, sequence = $12 WHERE id = $1";
pub(crate) const SET_CALL_JOIN: &str =
    "UPDATE calls SET zoom_meeting_id = $2, join_url = $3 WHERE id = $1";
pub(crate) const LANDING_COLUMNS: &str = "call_id, channel_id, revision, landed_revision, pending, \
     remote_ref, state, attempts, next_attempt_at, last_error";
/// `$1` call, `$2` channel, `$3` the merged pending list, `$4` due.
pub(crate) const BUMP_LANDING: &str = "UPDATE call_landings SET revision = revision + 1, \
     pending = $3, state = 'pending', attempts = 0, next_attempt_at = $4, last_error = NULL \
     WHERE call_id = $1 AND channel_id = $2";
/// Every channel of call `$1` but `$2` catches up with the whole series,
/// due at `$3` (the meeting they show changed).
pub(crate) const BUMP_OTHER_LANDINGS: &str = "UPDATE call_landings SET revision = revision + 1, \
     pending = '[\"series\"]', state = 'pending', attempts = 0, next_attempt_at = $3, \
     last_error = NULL WHERE call_id = $1 AND channel_id <> $2";
/// Landings due at `$1`, at most `$4`, whose lease (if any) ran out; a
/// call's other channels wait while its Zoom channel is pending, and no
/// channel waiting for reconnection is tried. `{lock}` as in
/// [`DUE_DELIVERIES`]; `$2` owner, `$3` lease end.
pub(crate) const CLAIM_CALL_LANDINGS: &str = "WITH due AS MATERIALIZED (\
     SELECT l.call_id, l.channel_id FROM call_landings l JOIN channels c ON c.id = l.channel_id \
     WHERE l.state = 'pending' AND l.next_attempt_at <= $1 \
       AND (l.lease_until IS NULL OR l.lease_until < $1) AND c.health <> 'needs_reconnect' \
       AND NOT EXISTS (SELECT 1 FROM call_landings h JOIN channels z ON z.id = h.channel_id \
         WHERE h.call_id = l.call_id AND h.channel_id <> l.channel_id \
           AND z.kind = 'zoom' AND h.state = 'pending') \
     ORDER BY l.next_attempt_at LIMIT $4{lock}) \
     UPDATE call_landings SET lease_owner = $2, lease_until = $3 \
     WHERE (call_id, channel_id) IN (SELECT call_id, channel_id FROM due) \
     RETURNING call_id, channel_id, revision, landed_revision, pending, remote_ref, state, \
       attempts, next_attempt_at, last_error";
/// `$1` call, `$2` channel, `$3` owner, `$4` revision reached, `$5` remote
/// reference (kept when NULL), `$6` now.
pub(crate) const LANDED: &str = "UPDATE call_landings SET landed_revision = $4, \
     state = CASE WHEN revision = $4 THEN 'landed' ELSE 'pending' END, \
     pending = CASE WHEN revision = $4 THEN '[]' ELSE pending END, \
     remote_ref = COALESCE($5, remote_ref), attempts = 0, last_error = NULL, \
     next_attempt_at = $6, lease_owner = NULL, lease_until = NULL \
     WHERE call_id = $1 AND channel_id = $2 AND lease_owner = $3";
/// `$4` when to try again, `$5` why.
pub(crate) const LANDING_RETRY: &str = "UPDATE call_landings SET attempts = attempts + 1, \
     next_attempt_at = $4, last_error = $5, lease_owner = NULL, lease_until = NULL \
     WHERE call_id = $1 AND channel_id = $2 AND lease_owner = $3";
/// An invitee's columns, from members `m` and their invitation `i`.
macro_rules! invitee_columns {
    () => {
        "m.id AS member_id, m.email, m.email_display, m.name, i.sequence_sent, i.join_url, \
         EXISTS (SELECT 1 FROM member_consents z WHERE z.member_id = m.id \
           AND z.channel = 'zoom' AND z.status = 'subscribed') AS takes_zoom"
    };
}
/// `$1` call, `$2` sequence, `$3` only those invited before, `$4` limit.
pub(crate) const CALL_INVITEES: &str = concat!(
    "SELECT ",
    invitee_columns!(),
    " FROM calls c \
     JOIN members m ON m.community_id = c.community_id AND m.state = 'active' \
     JOIN member_consents mc ON mc.member_id = m.id AND mc.channel = 'email' \
       AND mc.status = 'subscribed' AND mc.delivery_disabled_at IS NULL \
     LEFT JOIN call_invitations i ON i.call_id = c.id AND i.member_id = m.id \
     WHERE c.id = $1 AND (i.sequence_sent IS NULL OR i.sequence_sent < $2) \
       AND ($3 = FALSE OR i.sequence_sent IS NOT NULL) \
     ORDER BY m.id LIMIT $4"
);
/// `$1` call, `$2` member, `$3` sequence, `$4` when.
/// `$5` the member's own join link, if they were given one (a link kept
/// from an earlier version stays when none is given).
pub(crate) const RECORD_INVITATION: &str = "INSERT INTO call_invitations \
     (call_id, member_id, sequence_sent, sent_at, join_url) VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (call_id, member_id) DO UPDATE SET sequence_sent = excluded.sequence_sent, \
       sent_at = excluded.sent_at, \
       join_url = COALESCE(excluded.join_url, call_invitations.join_url)";
/// `$1` call, `$2` occurrence (stored local text), `$3` now, `$4` limit:
/// marks the next members to remind and names them.
pub(crate) const CLAIM_REMINDERS: &str = "WITH due AS MATERIALIZED (\
     SELECT i.member_id FROM call_invitations i \
     JOIN members m ON m.id = i.member_id AND m.state = 'active' \
     JOIN member_consents mc ON mc.member_id = m.id AND mc.channel = 'email' \
       AND mc.status = 'subscribed' AND mc.delivery_disabled_at IS NULL \
     WHERE i.call_id = $1 AND (i.reminded_occurrence IS NULL OR i.reminded_occurrence <> $2) \
     ORDER BY i.member_id LIMIT $4{lock}) \
     UPDATE call_invitations SET reminded_occurrence = $2, reminded_at = $3 \
     WHERE call_id = $1 AND member_id IN (SELECT member_id FROM due) \
       AND (reminded_occurrence IS NULL OR reminded_occurrence <> $2) \
     RETURNING member_id";
/// A call's invitees, the call and their ids pushed after it by a query
/// builder.
pub(crate) const INVITEES_BY_ID: &str = concat!(
    "SELECT ",
    invitee_columns!(),
    " FROM call_invitations i JOIN members m ON m.id = i.member_id WHERE i.call_id = "
);
/// `$4` why.
pub(crate) const LANDING_FAILED: &str = "UPDATE call_landings SET state = 'failed', \
     attempts = attempts + 1, last_error = $4, lease_owner = NULL, lease_until = NULL \
     WHERE call_id = $1 AND channel_id = $2 AND lease_owner = $3";

// What Zoom tells of calls once they run (its webhooks).

/// `$1` community, `$2` Zoom meeting number.
pub(crate) fn call_by_zoom_meeting() -> String {
    format!(
        "SELECT {CALL_COLUMNS} FROM calls WHERE community_id = $1 AND zoom_meeting_id = $2 \
         ORDER BY created_at, id LIMIT 1"
    )
}
/// `$1` call, `$2` instance, `$3` person, `$4` member, `$5` name, `$6`
/// email, `$7` joined: nothing for an unknown call or a person kept before.
pub(crate) const RECORD_ATTENDANCE: &str = "INSERT INTO call_attendance \
     (call_id, instance, person, member_id, name, email, joined_at) \
     SELECT id, $2, $3, $4, $5, $6, $7 FROM calls WHERE id = $1 \
     ON CONFLICT (call_id, instance, person) DO NOTHING";
/// `$1` call, `$2` instance, `$3` start, `$4` end: a time not given keeps
/// the one recorded.
pub(crate) const RECORD_CALL_INSTANCE: &str = "INSERT INTO call_instances \
     (call_id, instance, started_at, ended_at) \
     SELECT id, $2, $3, $4 FROM calls WHERE id = $1 \
     ON CONFLICT (call_id, instance) DO UPDATE SET \
       started_at = COALESCE(excluded.started_at, call_instances.started_at), \
       ended_at = COALESCE(excluded.ended_at, call_instances.ended_at)";
pub(crate) const CALL_INSTANCES: &str = "SELECT call_id, instance, started_at, ended_at \
     FROM call_instances WHERE call_id = $1 \
     ORDER BY started_at IS NULL, started_at, instance";
pub(crate) const CALL_ATTENDANCE: &str = "SELECT call_id, instance, person, member_id, name, \
     email, joined_at FROM call_attendance WHERE call_id = $1 ORDER BY joined_at, person";
pub(crate) const SET_CALL_RECORDING: &str = "UPDATE calls SET recording_url = $2 WHERE id = $1";

#[cfg(test)]
mod tests {
    use hub_core::model::member::{CommunityRole, ConsentChannel, ConsentStatus};

    use super::*;

    #[test]
    fn the_roster_query_numbers_its_parameters_in_order() {
        let query = MemberQuery {
            search: Some("Ada_".into()),
            role: Some(CommunityRole::Lead),
            consent: Some((ConsentChannel::Email, ConsentStatus::OptedOut)),
            after: Some("a@b.c".into()),
            limit: 50,
            ..MemberQuery::default()
        };
        let built = roster(&query, Search::PgTrigram);
        assert_eq!(
            built.texts,
            ["a@b.c", "lead", "%ada\\_%", "email", "opted_out"]
        );
        assert!(built.sql.contains("m.email > $2"));
        assert!(built.sql.contains("m.role = $3"));
        assert!(built.sql.contains("LIKE $4"));
        let fts = roster(&query, Search::Fts5Trigram);
        assert_eq!(fts.texts[2], "\"ada_\"");
        assert!(fts.sql.contains("members_search MATCH $4"));
        assert!(built.sql.contains("c.channel = $5"));
        assert!(built.sql.contains("c.status = $6"));
        assert!(built.sql.ends_with("LIMIT 51"));
    }
}
