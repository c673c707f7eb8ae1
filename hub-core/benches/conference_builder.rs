//! The peer-conference schedule builder on a realistic conference: 300
//! registrants, 80 proposals (ten registrants propose two, some sessions
//! have one or two co-hosts), each registrant voting for 1 to 5 sessions —
//! mostly in their one or two favourite of 8 topics, skewed towards the
//! popular ones — 6 rooms seating 20 to 120, 8 slots, a show-up factor of
//! 0.7, and the most wanted session pinned to the big room of the first slot.
//!
//! Builds it with `build` and with the `greedy` baseline (median of 7 runs
//! each), prints input sizes, times, placed counts and clashes, and panics if
//! either schedule breaks a rule. The data come from a seeded generator:
//! `BENCH_SEEDS=n` runs seeds 1 to n (default 1), a line group per seed.
//!
//! Prints raw lines.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::{
    collections::{HashMap, HashSet},
    hint::black_box,
    time::Instant,
};

use hub_core::{
    conferences::builder::{
        BuildInput, Pin, Room, Schedule, Session, Slot, Unplaced, build, clash_count,
        expected_attendance, greedy,
    },
    ids::{ProposalId, RegistrationId, RoomId, SlotId},
};
use uuid::Uuid;

const REGISTRANTS: usize = 300;
const PROPOSALS: usize = 80;
const TWICE_PROPOSING: usize = 10;
const TOPICS: usize = 8;
const CAPACITIES: [u32; 6] = [120, 80, 60, 40, 30, 20];
const SLOTS: usize = 8;
const SHOW_UP: f64 = 0.7;
const RUNS: usize = 7;

fn main() {
    let seeds: u64 = std::env::var("BENCH_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    for seed in 1..=seeds {
        run(seed);
    }
}

fn run(seed: u64) {
    let input = conference(seed);
    let votes: usize = input.sessions.iter().map(|s| s.voters.len()).sum();
    let co_hosted = input.sessions.iter().filter(|s| s.hosts.len() > 1).count();
    let largest = input
        .sessions
        .iter()
        .map(|s| expected_attendance(s.voters.len(), SHOW_UP))
        .max()
        .unwrap_or(0);
    println!(
        "seed={seed} registrants={REGISTRANTS} proposals={} votes={votes} co_hosted={co_hosted} \
         rooms={} capacities={CAPACITIES:?} slots={} room_slots={} show_up_factor={SHOW_UP} \
         pins={} largest_expected={largest}",
        input.sessions.len(),
        input.rooms.len(),
        input.slots.len(),
        input.rooms.len() * input.slots.len(),
        input.pins.len(),
    );

    let (built, times) = timed(|| build(black_box(&input)).unwrap());
    println!("seed={seed} build: {}", summary(&times));
    let (baseline, times) = timed(|| greedy(black_box(&input)).unwrap());
    println!("seed={seed} greedy: {}", summary(&times));

    check(&input, &built, "build");
    check(&input, &baseline, "greedy");
    println!(
        "seed={seed} placed: build {} of {} ({}); greedy {} ({})",
        built.placements.len(),
        input.sessions.len(),
        reasons(&built),
        baseline.placements.len(),
        reasons(&baseline),
    );
    let same: bool = {
        let ids = |s: &Schedule| {
            s.placements
                .iter()
                .map(|p| p.session)
                .collect::<HashSet<_>>()
        };
        ids(&built) == ids(&baseline)
    };
    println!(
        "seed={seed} clashes: build {}, greedy {} (build/greedy {:.2}; same sessions placed: {same})",
        built.clashes,
        baseline.clashes,
        f64::from(built.clashes) / f64::from(baseline.clashes.max(1)),
    );
    println!("seed={seed} invariants: ok (build and greedy)");
}

/// Runs `f` RUNS times; its last result and the sorted times in seconds.
fn timed(mut f: impl FnMut() -> Schedule) -> (Schedule, Vec<f64>) {
    let mut times = Vec::with_capacity(RUNS);
    let mut result = None;
    for _ in 0..RUNS {
        let started = Instant::now();
        result = Some(f());
        times.push(started.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    (result.unwrap(), times)
}

fn summary(times: &[f64]) -> String {
    format!(
        "median {:.2} ms of {} (min {:.2}, max {:.2})",
        times[times.len() / 2] * 1000.0,
        times.len(),
        times[0] * 1000.0,
        times[times.len() - 1] * 1000.0,
    )
}

fn reasons(schedule: &Schedule) -> String {
    let count =
        |f: fn(&Unplaced) -> bool| schedule.unfitted.iter().filter(|u| f(&u.reason)).count();
    format!(
        "too_big {}, no_room_left {}, hosts_busy {}",
        count(|r| matches!(r, Unplaced::TooBigForAnyRoom { .. })),
        count(|r| matches!(r, Unplaced::NoRoomLeft)),
        count(|r| matches!(r, Unplaced::HostsBusy)),
    )
}

/// Panics unless the schedule keeps the rules: no host twice in a slot,
/// rooms that seat their sessions, one session per room-slot, pins kept,
/// every session placed or explained once, clashes as counted.
fn check(input: &BuildInput, schedule: &Schedule, who: &str) {
    let sessions: HashMap<ProposalId, &Session> =
        input.sessions.iter().map(|s| (s.id, s)).collect();
    let rooms: HashMap<RoomId, u32> = input.rooms.iter().map(|r| (r.id, r.capacity)).collect();
    let mut room_slots = HashSet::new();
    let mut hosts = HashSet::new();
    for p in &schedule.placements {
        let session = sessions[&p.session];
        let expected = expected_attendance(session.voters.len(), input.show_up_factor);
        assert!(
            expected <= rooms[&p.room],
            "{who}: {p:?} in a room too small"
        );
        assert!(
            room_slots.insert((p.room, p.slot)),
            "{who}: room-slot twice: {p:?}"
        );
        for host in &session.hosts {
            assert!(
                hosts.insert((host, p.slot)),
                "{who}: {host} twice in {:?}",
                p.slot
            );
        }
    }
    for pin in &input.pins {
        assert!(
            schedule.placements.iter().any(|p| p.session == pin.session
                && p.room == pin.room
                && p.slot == pin.slot
                && p.pinned),
            "{who}: pin {pin:?} not kept"
        );
    }
    let mut seen: Vec<ProposalId> = schedule
        .placements
        .iter()
        .map(|p| p.session)
        .chain(schedule.unfitted.iter().map(|u| u.session))
        .collect();
    seen.sort_unstable();
    let mut all: Vec<ProposalId> = sessions.keys().copied().collect();
    all.sort_unstable();
    assert_eq!(seen, all, "{who}: sessions missing or repeated");
    assert_eq!(
        schedule.clashes,
        clash_count(input, &schedule.placements),
        "{who}: clashes"
    );
}

/// SplitMix64: the data must be the same on every run of a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }

    /// An index drawn with probability proportional to `weights[index]`.
    fn weighted(&mut self, candidates: &[usize], weights: &[f64]) -> usize {
        let total: f64 = candidates.iter().map(|&c| weights[c]).sum();
        let mut target = self.unit() * total;
        for &c in candidates {
            target -= weights[c];
            if target <= 0.0 {
                return c;
            }
        }
        candidates[candidates.len() - 1]
    }
}

fn conference(seed: u64) -> BuildInput {
    let mut rng = Rng(seed.wrapping_mul(0x2545_f491_4f6c_dd1d));
    let id =
        |kind: u128, i: usize| Uuid::from_u128((u128::from(seed) << 96) | (kind << 64) | i as u128);
    let registrants: Vec<RegistrationId> =
        (0..REGISTRANTS).map(|i| RegistrationId(id(1, i))).collect();
    let email = |r: usize| format!("person{r}@example.org");

    // Proposers: ten registrants propose twice, sixty once.
    let mut people: Vec<usize> = (0..REGISTRANTS).collect();
    rng.shuffle(&mut people);
    let mut proposers: Vec<usize> = people[..TWICE_PROPOSING].to_vec();
    proposers.extend_from_slice(&people[..PROPOSALS - TWICE_PROPOSING]);

    let topic: Vec<usize> = (0..PROPOSALS).map(|_| rng.below(TOPICS)).collect();
    // Popularity: a Zipf-like appeal over a random order of the proposals.
    let mut appeal_rank: Vec<usize> = (0..PROPOSALS).collect();
    rng.shuffle(&mut appeal_rank);
    let mut appeal = vec![0.0; PROPOSALS];
    for (rank, &p) in appeal_rank.iter().enumerate() {
        appeal[p] = 1.0 / ((rank + 1) as f64).powf(0.9);
    }

    let mut sessions: Vec<Session> = proposers
        .iter()
        .enumerate()
        .map(|(p, &proposer)| {
            let mut hosts = vec![email(proposer)];
            let co_hosts = match rng.below(10) {
                0..=2 => 1,
                3 => 2,
                _ => 0,
            };
            while hosts.len() < 1 + co_hosts {
                let host = email(rng.below(REGISTRANTS));
                if !hosts.contains(&host) {
                    hosts.push(host);
                }
            }
            Session {
                id: ProposalId(id(2, p)),
                hosts,
                voters: Vec::new(),
            }
        })
        .collect();

    let all: Vec<usize> = (0..PROPOSALS).collect();
    let by_topic: Vec<Vec<usize>> = (0..TOPICS)
        .map(|t| all.iter().copied().filter(|&p| topic[p] == t).collect())
        .collect();
    for &registrant in &registrants {
        let mut favourites: Vec<usize> = by_topic[rng.below(TOPICS)].clone();
        if rng.below(2) == 0 {
            favourites.extend_from_slice(&by_topic[rng.below(TOPICS)]);
        }
        let ballot = 1 + rng.below(5);
        let mut chosen: Vec<usize> = Vec::new();
        let mut tries = 0;
        while chosen.len() < ballot && tries < 100 {
            tries += 1;
            let pool = if !favourites.is_empty() && rng.unit() < 0.7 {
                &favourites
            } else {
                &all
            };
            let p = rng.weighted(pool, &appeal);
            if !chosen.contains(&p) {
                chosen.push(p);
            }
        }
        for p in chosen {
            sessions[p].voters.push(registrant);
        }
    }

    let rooms: Vec<Room> = CAPACITIES
        .iter()
        .enumerate()
        .map(|(i, &capacity)| Room {
            id: RoomId(id(3, i)),
            capacity,
        })
        .collect();
    let slots: Vec<Slot> = (0..SLOTS)
        .map(|i| Slot {
            id: SlotId(id(4, i)),
        })
        .collect();
    // The opening: the most wanted session in the big room, first slot.
    let top = sessions
        .iter()
        .max_by_key(|s| (s.voters.len(), std::cmp::Reverse(s.id)))
        .unwrap();
    let pins = if expected_attendance(top.voters.len(), SHOW_UP) <= rooms[0].capacity {
        vec![Pin {
            session: top.id,
            room: rooms[0].id,
            slot: slots[0].id,
        }]
    } else {
        Vec::new()
    };
    BuildInput {
        rooms,
        slots,
        sessions,
        pins,
        show_up_factor: SHOW_UP,
    }
}
