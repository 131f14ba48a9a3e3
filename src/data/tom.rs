//! Theory-of-Mind stories (Sally–Anne style, after ExploreToM and arXiv 2504.15604) from a
//! seeded world, with an explicit belief tracker.
//!
//! A story is a list of [`Event`]s: agents enter and leave a room, one agent puts an object in a
//! container, agents move it to new containers while others may be away, and neutral "infill"
//! sentences (the paper's GPT-4 infills, here from a fixed list) raise the context length. The
//! [`BeliefTracker`] replays the events and keeps, for every agent, where it believes the object
//! is (first order: the last move it witnessed) and where it believes every other agent believes
//! it is (second order: the last move both witnessed, as far as the first agent knows). Every
//! gold answer, and every belief-*inconsistent* alternative, comes from the tracker, never from
//! typed-in text.
//!
//! The paper's cloze questions end just before a location, so the next token is the answer:
//! zero order "In the beginning the apple was in the" / "Now the apple is in the", first order
//! "Anne will look for the apple in the", second order "Sally thinks that Anne will look for the
//! apple in the".

use rand::{rngs::StdRng, Rng, SeedableRng};

use crate::{Error, Result};

/// Agents' names (single words).
pub const NAMES: [&str; 8] = [
    "Sally", "Anne", "Liam", "Kaylee", "Omar", "Mia", "Noah", "Zoe",
];
/// Objects.
pub const OBJECTS: [&str; 6] = ["apple", "ball", "key", "coin", "letter", "watch"];
/// Containers: the locations a question's next token names.
pub const CONTAINERS: [&str; 8] = [
    "basket", "box", "drawer", "cupboard", "bag", "chest", "suitcase", "bucket",
];
/// Neutral infill sentences (no agent, object or container in them).
pub const INFILLS: [&str; 8] = [
    "The lights flicker.",
    "It starts to rain.",
    "A bird sings outside.",
    "The clock ticks.",
    "A dog barks far away.",
    "The wind blows.",
    "A car passes by.",
    "The room is quiet.",
];

/// One sentence of a story. Indices are into the story's `agents` and [`CONTAINERS`] / [`INFILLS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    Enter(usize),
    Leave(usize),
    /// The first placement of the object.
    Put {
        agent: usize,
        container: usize,
    },
    /// The object goes from where it is to another container.
    Move {
        agent: usize,
        container: usize,
    },
    /// A neutral sentence: changes nothing.
    Infill(usize),
}

/// A question's reasoning order (the paper's three levels).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Order {
    Zero,
    First,
    Second,
}

impl Order {
    pub const ALL: [Order; 3] = [Order::Zero, Order::First, Order::Second];
    pub fn name(self) -> &'static str {
        match self {
            Order::Zero => "zero-order",
            Order::First => "first-order",
            Order::Second => "second-order",
        }
    }
}

/// A cloze question whose next token is a container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Question {
    /// Zero order, past state: where the object was first put.
    Start,
    /// Zero order, current state.
    Now,
    /// First order: where `agent` will look (its belief).
    First { agent: usize },
    /// Second order: where `thinker` thinks `agent` will look.
    Second { thinker: usize, agent: usize },
}

impl Question {
    pub fn order(self) -> Order {
        match self {
            Question::Start | Question::Now => Order::Zero,
            Question::First { .. } => Order::First,
            Question::Second { .. } => Order::Second,
        }
    }
}

/// Whether a belief question's gold answer differs from reality.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BeliefKind {
    /// Zero-order (a fact about the world, not a belief).
    State,
    TrueBelief,
    FalseBelief,
}

/// A story: its agents (indices into [`NAMES`]), object (into [`OBJECTS`]) and events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TomStory {
    pub agents: Vec<usize>,
    pub object: usize,
    pub events: Vec<Event>,
}

impl TomStory {
    /// The story as text, one sentence per event.
    pub fn text(&self) -> Result<String> {
        let name = |a: usize| -> Result<&str> {
            let i = *self.agents.get(a).ok_or_else(|| {
                Error::Data(format!("ToM story: agent {a} of {}", self.agents.len()))
            })?;
            NAMES
                .get(i)
                .copied()
                .ok_or_else(|| Error::Data(format!("ToM story: name {i} of {}", NAMES.len())))
        };
        let cont = |c: usize| {
            CONTAINERS.get(c).copied().ok_or_else(|| {
                Error::Data(format!("ToM story: container {c} of {}", CONTAINERS.len()))
            })
        };
        let obj = self.object_name()?;
        let mut s = Vec::with_capacity(self.events.len());
        for e in &self.events {
            s.push(match *e {
                Event::Enter(a) => format!("{} enters the room.", name(a)?),
                Event::Leave(a) => format!("{} leaves the room.", name(a)?),
                Event::Put { agent, container } => format!(
                    "{} puts the {obj} in the {}.",
                    name(agent)?,
                    cont(container)?
                ),
                Event::Move { agent, container } => format!(
                    "{} moves the {obj} to the {}.",
                    name(agent)?,
                    cont(container)?
                ),
                Event::Infill(i) => INFILLS
                    .get(i)
                    .ok_or_else(|| {
                        Error::Data(format!("ToM story: infill {i} of {}", INFILLS.len()))
                    })?
                    .to_string(),
            });
        }
        Ok(s.join(" "))
    }

    pub fn object_name(&self) -> Result<&'static str> {
        OBJECTS.get(self.object).copied().ok_or_else(|| {
            Error::Data(format!(
                "ToM story: object {} of {}",
                self.object,
                OBJECTS.len()
            ))
        })
    }

    /// The question's text, ending before the location.
    pub fn question_text(&self, q: Question) -> Result<String> {
        let name = |a: usize| {
            self.agents
                .get(a)
                .and_then(|&i| NAMES.get(i))
                .copied()
                .ok_or_else(|| Error::Data(format!("ToM question: no agent {a}")))
        };
        let obj = self.object_name()?;
        Ok(match q {
            Question::Start => format!("In the beginning the {obj} was in the"),
            Question::Now => format!("Now the {obj} is in the"),
            Question::First { agent } => format!("{} will look for the {obj} in the", name(agent)?),
            Question::Second { thinker, agent } => format!(
                "{} thinks that {} will look for the {obj} in the",
                name(thinker)?,
                name(agent)?
            ),
        })
    }

    /// The tracker after every event.
    pub fn track(&self) -> Result<BeliefTracker> {
        let mut t = BeliefTracker::new(self.agents.len())?;
        for e in &self.events {
            t.apply(*e)?;
        }
        Ok(t)
    }

    /// The same story with `k` infill sentences inserted at random positions after the first
    /// event (seeded; `k = 0` gives the story unchanged).
    pub fn with_infills(&self, k: usize, seed: u64) -> TomStory {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut events = self.events.clone();
        for _ in 0..k {
            let at = rng.random_range(1..=events.len().max(1));
            events.insert(
                at.min(events.len()),
                Event::Infill(rng.random_range(0..INFILLS.len())),
            );
        }
        TomStory {
            events,
            ..self.clone()
        }
    }

    /// Number of infill sentences.
    pub fn n_infills(&self) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e, Event::Infill(_)))
            .count()
    }
}

/// World state and beliefs, updated event by event.
///
/// Rules (the Sally–Anne logic of ExploreToM): an agent who is in the room when the object is put
/// or moved sees it, and sees who else is there. So a placement sets `belief[x]` for every
/// present `x`, and `belief2[x][y]` (x's belief about y's belief) for every present pair; an
/// absent agent's beliefs do not change, and a present agent keeps its old idea of an absent
/// agent's belief (it knows that agent missed the move). Entering the room does not reveal where
/// the object is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BeliefTracker {
    present: Vec<bool>,
    /// Containers the object has been in, in order (the last is where it is).
    pub history: Vec<usize>,
    pub belief: Vec<Option<usize>>,
    pub belief2: Vec<Vec<Option<usize>>>,
}

impl BeliefTracker {
    /// A room with `n_agents` agents, none of them in it yet.
    pub fn new(n_agents: usize) -> Result<BeliefTracker> {
        if n_agents == 0 {
            return Err(Error::Data(
                "ToM tracker: a story needs at least one agent".into(),
            ));
        }
        Ok(BeliefTracker {
            present: vec![false; n_agents],
            history: vec![],
            belief: vec![None; n_agents],
            belief2: vec![vec![None; n_agents]; n_agents],
        })
    }

    fn agent(&self, a: usize) -> Result<usize> {
        if a < self.present.len() {
            Ok(a)
        } else {
            Err(Error::Data(format!(
                "ToM tracker: agent {a} of {}",
                self.present.len()
            )))
        }
    }

    pub fn is_present(&self, a: usize) -> bool {
        self.present.get(a).copied().unwrap_or(false)
    }

    /// Where the object is now.
    pub fn location(&self) -> Option<usize> {
        self.history.last().copied()
    }

    /// Applies one event; an impossible one (leaving when away, moving when absent, moving
    /// before the object is put, putting it twice, moving it where it already is) is an error.
    pub fn apply(&mut self, e: Event) -> Result<()> {
        match e {
            Event::Enter(a) => {
                let a = self.agent(a)?;
                if self.present[a] {
                    return Err(Error::Data(format!(
                        "ToM tracker: agent {a} enters but is already in the room"
                    )));
                }
                self.present[a] = true;
            }
            Event::Leave(a) => {
                let a = self.agent(a)?;
                if !self.present[a] {
                    return Err(Error::Data(format!(
                        "ToM tracker: agent {a} leaves but is not in the room"
                    )));
                }
                self.present[a] = false;
            }
            Event::Put { agent, container } | Event::Move { agent, container } => {
                let a = self.agent(agent)?;
                if !self.present[a] {
                    return Err(Error::Data(format!(
                        "ToM tracker: agent {a} handles the object from outside the room"
                    )));
                }
                let is_put = matches!(e, Event::Put { .. });
                match (is_put, self.location()) {
                    (true, Some(_)) => {
                        return Err(Error::Data("ToM tracker: the object is put twice".into()))
                    }
                    (false, None) => {
                        return Err(Error::Data(
                            "ToM tracker: the object is moved before it is put".into(),
                        ))
                    }
                    (false, Some(c)) if c == container => {
                        return Err(Error::Data(format!(
                            "ToM tracker: the object is moved to where it is ({c})"
                        )))
                    }
                    _ => {}
                }
                self.history.push(container);
                let n = self.present.len();
                for x in (0..n).filter(|&x| self.present[x]) {
                    self.belief[x] = Some(container);
                    for y in (0..n).filter(|&y| self.present[y]) {
                        self.belief2[x][y] = Some(container);
                    }
                }
            }
            Event::Infill(_) => {}
        }
        Ok(())
    }

    /// The gold (belief-consistent) container for `q`.
    pub fn answer(&self, q: Question) -> Result<usize> {
        let none = || {
            Error::Data(format!("ToM tracker: {q:?} has no answer (the object was never put, or the agent never saw it)"))
        };
        match q {
            Question::Start => self.history.first().copied().ok_or_else(none),
            Question::Now => self.location().ok_or_else(none),
            Question::First { agent } => self.belief[self.agent(agent)?].ok_or_else(none),
            Question::Second { thinker, agent } => {
                let (t, a) = (self.agent(thinker)?, self.agent(agent)?);
                if t == a {
                    return Err(Error::Data(
                        "ToM tracker: a second-order question needs two different agents".into(),
                    ));
                }
                self.belief2[t][a].ok_or_else(none)
            }
        }
    }

    /// The belief-*inconsistent* alternative for `q`: reality when the gold answer is a false
    /// belief, otherwise the other end of the object's last step (its previous container when the
    /// gold is where it is now; where it is now when the gold is a past one). Needs a move.
    pub fn alternative(&self, q: Question) -> Result<usize> {
        let gold = self.answer(q)?;
        let now = self
            .location()
            .ok_or_else(|| Error::Data("ToM tracker: the object was never put".into()))?;
        if gold != now {
            return Ok(now);
        }
        if self.history.len() < 2 {
            return Err(Error::Data(
                "ToM tracker: a story without a move has no belief-inconsistent location".into(),
            ));
        }
        Ok(self.history[self.history.len() - 2])
    }

    /// State question, true belief or false belief.
    pub fn kind(&self, q: Question) -> Result<BeliefKind> {
        Ok(match q.order() {
            Order::Zero => BeliefKind::State,
            _ if self.answer(q)? == self.location().unwrap_or(usize::MAX) => BeliefKind::TrueBelief,
            _ => BeliefKind::FalseBelief,
        })
    }
}

/// Story generator settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TomConfig {
    /// Agents per story (2..=8).
    pub n_agents: usize,
    /// Moves after the first placement (1..=7: each goes to a container not used before).
    pub n_moves: usize,
    /// Before each move, the chance that one agent other than the mover leaves (or, when
    /// someone is away, comes back).
    pub p_change: f64,
    /// After the last move, the chance that an absent agent comes back (the Sally–Anne return).
    pub p_return: f64,
}

impl TomConfig {
    /// The ci world: three agents, one move (the classic false-belief story with a bystander).
    pub fn ci() -> TomConfig {
        TomConfig {
            n_agents: 3,
            n_moves: 1,
            p_change: 0.75,
            p_return: 0.5,
        }
    }

    pub fn validate(&self) -> Result<()> {
        let field = |field: &'static str, msg: String| Error::ConfigField {
            path: "TomConfig".into(),
            field,
            msg,
        };
        if !(2..=NAMES.len()).contains(&self.n_agents) {
            return Err(field(
                "n_agents",
                format!("is {}; needs 2..={}", self.n_agents, NAMES.len()),
            ));
        }
        if !(1..CONTAINERS.len()).contains(&self.n_moves) {
            return Err(field(
                "n_moves",
                format!(
                    "is {}; needs 1..={} (every move goes to an unused container)",
                    self.n_moves,
                    CONTAINERS.len() - 1
                ),
            ));
        }
        for (f, p) in [("p_change", self.p_change), ("p_return", self.p_return)] {
            if !(0.0..=1.0).contains(&p) {
                return Err(field(f, format!("is {p}; needs a probability in [0, 1]")));
            }
        }
        Ok(())
    }
}

/// A seeded stream of stories.
#[derive(Clone, Debug)]
pub struct TomWorld {
    pub config: TomConfig,
    rng: StdRng,
}

impl TomWorld {
    pub fn new(config: TomConfig, seed: u64) -> Result<TomWorld> {
        config.validate()?;
        Ok(TomWorld {
            config,
            rng: StdRng::seed_from_u64(seed),
        })
    }

    fn pick(&mut self, from: &[usize]) -> usize {
        from[self.rng.random_range(0..from.len())]
    }

    /// The next story: everyone enters, one agent puts the object in a container, then
    /// `n_moves` moves, each possibly preceded by someone leaving or coming back; possibly a
    /// return at the end.
    pub fn story(&mut self) -> TomStory {
        let c = self.config;
        let mut names: Vec<usize> = (0..NAMES.len()).collect();
        let mut conts: Vec<usize> = (0..CONTAINERS.len()).collect();
        for v in [&mut names, &mut conts] {
            for i in (1..v.len()).rev() {
                v.swap(i, self.rng.random_range(0..=i));
            }
        }
        let agents = names[..c.n_agents].to_vec();
        let object = self.rng.random_range(0..OBJECTS.len());
        let mut present = vec![true; c.n_agents];
        let mut events: Vec<Event> = (0..c.n_agents).map(Event::Enter).collect();
        let all: Vec<usize> = (0..c.n_agents).collect();
        let putter = self.pick(&all);
        events.push(Event::Put {
            agent: putter,
            container: conts[0],
        });
        for m in 1..=c.n_moves {
            if self.rng.random_bool(c.p_change) {
                let away: Vec<usize> = all.iter().copied().filter(|&a| !present[a]).collect();
                let here: Vec<usize> = all.iter().copied().filter(|&a| present[a]).collect();
                if !away.is_empty() && (here.len() < 2 || self.rng.random_bool(0.5)) {
                    let a = self.pick(&away);
                    present[a] = true;
                    events.push(Event::Enter(a));
                } else if here.len() >= 2 {
                    let a = self.pick(&here);
                    present[a] = false;
                    events.push(Event::Leave(a));
                }
            }
            let here: Vec<usize> = all.iter().copied().filter(|&a| present[a]).collect();
            let mover = self.pick(&here);
            events.push(Event::Move {
                agent: mover,
                container: conts[m],
            });
        }
        let away: Vec<usize> = all.iter().copied().filter(|&a| !present[a]).collect();
        if !away.is_empty() && self.rng.random_bool(c.p_return) {
            let a = self.pick(&away);
            events.push(Event::Enter(a));
        }
        TomStory {
            agents,
            object,
            events,
        }
    }

    /// A question of `order` about `story`: for belief orders, a false-belief question with
    /// probability 1/2 when the story has one (so both kinds are common), else a true-belief one.
    pub fn question(&mut self, story: &TomStory, order: Order) -> Result<Question> {
        let t = story.track()?;
        let n = story.agents.len();
        let candidates: Vec<Question> = match order {
            Order::Zero => vec![Question::Start, Question::Now],
            Order::First => (0..n).map(|agent| Question::First { agent }).collect(),
            Order::Second => (0..n)
                .flat_map(|thinker| {
                    (0..n)
                        .filter(move |&a| a != thinker)
                        .map(move |agent| Question::Second { thinker, agent })
                })
                .collect(),
        };
        let mut fb = vec![];
        let mut other = vec![];
        for q in candidates {
            if t.answer(q).is_err() {
                continue;
            }
            if t.kind(q)? == BeliefKind::FalseBelief {
                fb.push(q)
            } else {
                other.push(q)
            }
        }
        let pool = if !fb.is_empty() && (other.is_empty() || self.rng.random_bool(0.5)) {
            fb
        } else {
            other
        };
        if pool.is_empty() {
            return Err(Error::Data(format!(
                "ToM world: the story has no answerable {} question",
                order.name()
            )));
        }
        Ok(pool[self.rng.random_range(0..pool.len())])
    }

    /// A fresh seed for a story's infills (so infill positions come from this world's stream).
    pub fn next_seed(&mut self) -> u64 {
        self.rng.random()
    }

    /// A uniform draw in `0..n` from this world's stream (n ≥ 1).
    pub fn below(&mut self, n: usize) -> usize {
        self.rng.random_range(0..n.max(1))
    }
}

/// One prompt: a story (with its infills), a question, and the two continuations the tracker
/// gives (container words).
#[derive(Clone, Debug, PartialEq)]
pub struct TomPrompt {
    pub story: TomStory,
    pub question: Question,
    pub order: Order,
    pub kind: BeliefKind,
    pub infills: usize,
    /// Story and question: the next word is a container.
    pub text: String,
    pub consistent: &'static str,
    pub inconsistent: &'static str,
}

impl TomPrompt {
    pub fn new(story: &TomStory, question: Question) -> Result<TomPrompt> {
        let t = story.track()?;
        let text = format!("{} {}", story.text()?, story.question_text(question)?);
        Ok(TomPrompt {
            story: story.clone(),
            question,
            order: question.order(),
            kind: t.kind(question)?,
            infills: story.n_infills(),
            text,
            consistent: CONTAINERS[t.answer(question)?],
            inconsistent: CONTAINERS[t.alternative(question)?],
        })
    }

    /// The training document: prompt, answer, full stop. With `answer` = [`Self::consistent`]
    /// this is the tracker's story; a control passes another container.
    pub fn document(&self, answer: &str) -> String {
        format!("{} {answer}.", self.text)
    }
}

/// Every word the generator can write (for fitting a word tokenizer): all sentence templates
/// with every name, object and container, the questions and the infills.
pub fn vocabulary_text() -> String {
    let mut s = String::new();
    for n in NAMES {
        s.push_str(&format!("{n} enters the room. {n} leaves the room. {n} will look for the in the {n} thinks that "));
    }
    for o in OBJECTS {
        s.push_str(&format!("puts the {o} in the moves the {o} to the In the beginning the {o} was in the Now the {o} is in the "));
    }
    for c in CONTAINERS {
        s.push_str(&format!("{c}. "));
    }
    for i in INFILLS {
        s.push_str(i);
        s.push(' ');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use Event::*;

    /// The classic Sally–Anne story, written by hand: Sally (0) and Anne (1) and Liam (2) enter,
    /// Sally puts the apple in the basket (0), Sally leaves, Anne moves it to the box (1), Sally
    /// comes back.
    fn sally_anne() -> TomStory {
        TomStory {
            agents: vec![0, 1, 2],
            object: 0,
            events: vec![
                Enter(0),
                Enter(1),
                Enter(2),
                Put {
                    agent: 0,
                    container: 0,
                },
                Leave(0),
                Move {
                    agent: 1,
                    container: 1,
                },
                Enter(0),
            ],
        }
    }

    #[test]
    fn sally_anne_by_hand() {
        let s = sally_anne();
        assert_eq!(
            s.text().unwrap(),
            "Sally enters the room. Anne enters the room. Liam enters the room. Sally puts the apple in the basket. \
             Sally leaves the room. Anne moves the apple to the box. Sally enters the room."
        );
        let t = s.track().unwrap();
        assert_eq!(t.answer(Question::Start).unwrap(), 0);
        assert_eq!(t.answer(Question::Now).unwrap(), 1);
        // Sally missed the move: false belief (basket); Anne and Liam saw it: box
        assert_eq!(t.answer(Question::First { agent: 0 }).unwrap(), 0);
        assert_eq!(
            t.kind(Question::First { agent: 0 }).unwrap(),
            BeliefKind::FalseBelief
        );
        assert_eq!(t.alternative(Question::First { agent: 0 }).unwrap(), 1);
        assert_eq!(t.answer(Question::First { agent: 1 }).unwrap(), 1);
        assert_eq!(
            t.kind(Question::First { agent: 1 }).unwrap(),
            BeliefKind::TrueBelief
        );
        assert_eq!(t.alternative(Question::First { agent: 1 }).unwrap(), 0);
        // Anne knows Sally was away: Anne thinks Sally will look in the basket
        assert_eq!(
            t.answer(Question::Second {
                thinker: 1,
                agent: 0
            })
            .unwrap(),
            0
        );
        // Sally thinks Anne thinks basket (Sally saw neither the move nor knows of it)
        assert_eq!(
            t.answer(Question::Second {
                thinker: 0,
                agent: 1
            })
            .unwrap(),
            0
        );
        assert_eq!(
            t.kind(Question::Second {
                thinker: 0,
                agent: 1
            })
            .unwrap(),
            BeliefKind::FalseBelief
        );
        // Liam saw Anne see it
        assert_eq!(
            t.answer(Question::Second {
                thinker: 2,
                agent: 1
            })
            .unwrap(),
            1
        );
        assert_eq!(
            t.kind(Question::Second {
                thinker: 2,
                agent: 1
            })
            .unwrap(),
            BeliefKind::TrueBelief
        );
        // zero-order alternatives: the other end of the move
        assert_eq!(t.alternative(Question::Start).unwrap(), 1);
        assert_eq!(t.alternative(Question::Now).unwrap(), 0);
        let p = TomPrompt::new(
            &s,
            Question::Second {
                thinker: 1,
                agent: 0,
            },
        )
        .unwrap();
        assert!(p
            .text
            .ends_with("Anne thinks that Sally will look for the apple in the"));
        assert_eq!(
            (p.consistent, p.inconsistent, p.kind, p.order),
            ("basket", "box", BeliefKind::FalseBelief, Order::Second)
        );
    }

    #[test]
    fn two_moves_by_hand() {
        // Anne leaves before the first move and comes back before the second: she saw only the
        // second one; Liam leaves before the second and missed it.
        let s = TomStory {
            agents: vec![1, 2, 3],
            object: 2,
            events: vec![
                Enter(0),
                Enter(1),
                Enter(2),
                Put {
                    agent: 1,
                    container: 3,
                },
                Leave(0),
                Move {
                    agent: 1,
                    container: 4,
                },
                Enter(0),
                Leave(2),
                Move {
                    agent: 1,
                    container: 5,
                },
                Infill(0),
            ],
        };
        let t = s.track().unwrap();
        assert_eq!(t.history, vec![3, 4, 5]);
        assert_eq!(t.answer(Question::First { agent: 0 }).unwrap(), 5);
        assert_eq!(t.answer(Question::First { agent: 2 }).unwrap(), 4);
        assert_eq!(
            t.kind(Question::First { agent: 2 }).unwrap(),
            BeliefKind::FalseBelief
        );
        // Anne (0) missed move 1 and Liam missed move 2: the last placement both saw is the put
        assert_eq!(
            t.answer(Question::Second {
                thinker: 0,
                agent: 2
            })
            .unwrap(),
            3
        );
        assert_eq!(
            t.alternative(Question::Second {
                thinker: 0,
                agent: 2
            })
            .unwrap(),
            5
        );
        // Liam (2) last saw Anne at the put (she was away for move 1): he thinks she thinks 3
        assert_eq!(
            t.answer(Question::Second {
                thinker: 2,
                agent: 0
            })
            .unwrap(),
            3
        );
        // the mover (1) saw Anne see move 2
        assert_eq!(
            t.answer(Question::Second {
                thinker: 1,
                agent: 0
            })
            .unwrap(),
            5
        );
        assert_eq!(
            t.alternative(Question::Second {
                thinker: 1,
                agent: 0
            })
            .unwrap(),
            4
        );
        assert_eq!(s.n_infills(), 1);
    }

    #[test]
    fn impossible_stories_and_configs_are_typed_errors() {
        let bad = |events: Vec<Event>| {
            TomStory {
                agents: vec![0, 1],
                object: 0,
                events,
            }
            .track()
            .unwrap_err()
        };
        assert!(matches!(bad(vec![Leave(0)]), Error::Data(_)));
        assert!(matches!(bad(vec![Enter(0), Enter(0)]), Error::Data(_)));
        assert!(matches!(
            bad(vec![
                Enter(0),
                Move {
                    agent: 0,
                    container: 1
                }
            ]),
            Error::Data(_)
        ));
        assert!(matches!(
            bad(vec![Put {
                agent: 0,
                container: 1
            }]),
            Error::Data(_)
        ));
        assert!(matches!(
            bad(vec![
                Enter(0),
                Put {
                    agent: 0,
                    container: 1
                },
                Move {
                    agent: 0,
                    container: 1
                }
            ]),
            Error::Data(_)
        ));
        assert!(matches!(bad(vec![Enter(5)]), Error::Data(_)));
        // no move: no belief-inconsistent location; an agent who never saw the object: no answer
        let t = TomStory {
            agents: vec![0, 1],
            object: 0,
            events: vec![
                Enter(0),
                Put {
                    agent: 0,
                    container: 1,
                },
            ],
        }
        .track()
        .unwrap();
        assert!(t.alternative(Question::Now).is_err());
        assert!(t.answer(Question::First { agent: 1 }).is_err());
        assert!(t
            .answer(Question::Second {
                thinker: 0,
                agent: 0
            })
            .is_err());
        assert!(BeliefTracker::new(0).is_err());
        for c in [
            TomConfig {
                n_agents: 1,
                ..TomConfig::ci()
            },
            TomConfig {
                n_agents: 9,
                ..TomConfig::ci()
            },
            TomConfig {
                n_moves: 0,
                ..TomConfig::ci()
            },
            TomConfig {
                n_moves: 8,
                ..TomConfig::ci()
            },
            TomConfig {
                p_change: 1.5,
                ..TomConfig::ci()
            },
            TomConfig {
                p_return: f64::NAN,
                ..TomConfig::ci()
            },
        ] {
            assert!(
                matches!(TomWorld::new(c, 0).unwrap_err(), Error::ConfigField { .. }),
                "{c:?}"
            );
        }
    }

    #[test]
    fn generated_stories_are_valid_seeded_and_have_both_kinds() {
        let cfg = TomConfig {
            n_agents: 3,
            n_moves: 2,
            ..TomConfig::ci()
        };
        let mut w = TomWorld::new(cfg, 7).unwrap();
        let mut w2 = TomWorld::new(cfg, 7).unwrap();
        let (mut fb, mut tb) = (0, 0);
        for _ in 0..300 {
            let s = w.story();
            assert_eq!(s, w2.story());
            let t = s.track().unwrap(); // every generated story replays without error
            assert_eq!(t.history.len(), cfg.n_moves + 1);
            for order in Order::ALL {
                let q = w.question(&s, order).unwrap();
                assert_eq!(q, w2.question(&s, order).unwrap());
                let p = TomPrompt::new(&s.with_infills(4, 3), q).unwrap();
                assert_ne!(p.consistent, p.inconsistent);
                assert_eq!(p.infills, 4);
                match p.kind {
                    BeliefKind::FalseBelief => fb += 1,
                    BeliefKind::TrueBelief => tb += 1,
                    BeliefKind::State => assert_eq!(order, Order::Zero),
                }
            }
        }
        assert!(fb > 100 && tb > 100, "fb {fb}, tb {tb}");
    }

    #[test]
    fn infills_keep_every_answer() {
        let s = sally_anne();
        let long = s.with_infills(16, 1);
        assert_eq!(long.n_infills(), 16);
        assert_eq!(long.events[0], s.events[0]); // inserted after the first event
        let (a, b) = (s.track().unwrap(), long.track().unwrap());
        assert_eq!(a, b);
    }
}
