//! Answers kept per key and refreshed behind the requests, for a view whose answer costs seconds
//! to compute and changes a little at a time (a busy backend's failing tests over a week or a
//! month: every job of the window judged by the rules, contract §12.13).
//!
//! An answer younger than its *refresh age* is served as it is. An older one is still served,
//! stating its age, while one computation in the background replaces it; past its *serving age*
//! (ten refresh ages) it is served no more, and the request waits for a new one. The refresh
//! age is the configured `fresh_for`, or ten times what the answer took to compute when that is
//! longer: a key asked without pause then spends at most a tenth of a core on its refreshes.
//!
//! Concurrent requests for a key with no answer to serve wait for one computation, not one
//! each; at most `max_computing` computations run at once, whatever the keys (each holds its
//! window's jobs while it runs). A failed computation keeps the answer there was. At most
//! [`MAX_KEPT`] keys are kept, the longest unrefreshed dropped first, and none past its
//! serving age. `fresh_for` of zero keeps nothing: every request computes.
//!
//! A view made of several kept answers (a PR's verdicts, one per backend) asks for them at once
//! ([`KeptAnswers::get_many`]): the missing ones are computed together, in one computation.

use std::collections::HashMap;
use std::fmt::Display;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Semaphore;
// Tokio's clock, which tests can pause and advance.
use tokio::time::Instant;

/// How many keys' answers are kept at most (a key is a backend and a window: a few hundred
/// backends' most asked windows).
pub const MAX_KEPT: usize = 256;

/// How many times its computing time an answer waits before it is refreshed, at least.
const REFRESH_PER_COMPUTING_TIME: u32 = 10;

/// How many refresh ages an answer is served for, at most.
const SERVED_PER_REFRESH_AGE: u32 = 10;

/// One computed answer.
#[derive(Debug)]
pub struct Kept<V> {
    pub value: V,
    /// When its computation ended.
    pub computed: Instant,
    /// How long its computation took (its turn for a computing slot not counted).
    pub took: Duration,
}

impl<V> Kept<V> {
    fn refresh_age(&self, fresh_for: Duration) -> Duration {
        fresh_for.max(self.took.saturating_mul(REFRESH_PER_COMPUTING_TIME))
    }

    fn serving_age(&self, fresh_for: Duration) -> Duration {
        self.refresh_age(fresh_for)
            .saturating_mul(SERVED_PER_REFRESH_AGE)
    }
}

/// What a kept answer is good for at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    Serve,
    ServeAndRefresh,
    Recompute,
}

fn use_of<V>(kept: &Kept<V>, fresh_for: Duration, now: Instant) -> Use {
    let age = now.saturating_duration_since(kept.computed);
    if age < kept.refresh_age(fresh_for) {
        Use::Serve
    } else if age < kept.serving_age(fresh_for) {
        Use::ServeAndRefresh
    } else {
        Use::Recompute
    }
}

struct Slot<V> {
    kept: Mutex<Option<Arc<Kept<V>>>>,
    /// Held by the key's one computation.
    computing: Arc<tokio::sync::Mutex<()>>,
}

impl<V> Default for Slot<V> {
    fn default() -> Self {
        Self {
            kept: Mutex::new(None),
            computing: Arc::new(tokio::sync::Mutex::new(())),
        }
    }
}

impl<V> Slot<V> {
    fn current(&self) -> Option<Arc<Kept<V>>> {
        self.kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn store(&self, kept: Arc<Kept<V>>) {
        *self.kept.lock().unwrap_or_else(PoisonError::into_inner) = Some(kept);
    }
}

/// Answers kept per key `K`; cheap to clone (the clones share them).
pub struct KeptAnswers<K, V> {
    inner: Arc<Inner<K, V>>,
}

impl<K, V> Clone for KeptAnswers<K, V> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

struct Inner<K, V> {
    fresh_for: Duration,
    computing: Semaphore,
    slots: Mutex<HashMap<K, Arc<Slot<V>>>>,
}

impl<K, V> KeptAnswers<K, V>
where
    K: Eq + Hash + Clone + Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    pub fn new(fresh_for: Duration, max_computing: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                fresh_for,
                computing: Semaphore::new(max_computing.max(1)),
                slots: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The answer for `key`: the kept one while it may be served (starting its refresh by
    /// `compute` when it is due), else `compute`'s, kept from now.
    pub async fn get<F, Fut, E>(&self, key: K, compute: F) -> Result<Arc<Kept<V>>, E>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<V, E>> + Send + 'static,
        E: Display + Send + 'static,
    {
        if self.inner.fresh_for.is_zero() {
            return self.inner.compute(compute).await.map(Arc::new);
        }
        let slot = self.slot(&key);
        if let Some(kept) = slot.current() {
            match use_of(&kept, self.inner.fresh_for, Instant::now()) {
                Use::Serve => return Ok(kept),
                Use::ServeAndRefresh => {
                    self.refresh_behind(slot, compute);
                    return Ok(kept);
                }
                Use::Recompute => {}
            }
        }
        let _computing = slot.computing.lock().await;
        // Another request may have computed it while this one waited.
        if let Some(kept) = slot.current() {
            if use_of(&kept, self.inner.fresh_for, Instant::now()) == Use::Serve {
                return Ok(kept);
            }
        }
        let kept = Arc::new(self.inner.compute(compute).await?);
        slot.store(Arc::clone(&kept));
        self.inner.forget_old(Instant::now());
        Ok(kept)
    }

    /// The answers for `keys`, in their order: the kept ones while they may be served, the
    /// others computed together by one call of `compute` on those keys (which answers one value
    /// per key, in their order), each kept from now under its own key. Kept answers due for a
    /// refresh are served, and computed again together behind the request. Unlike [`Self::get`],
    /// two requests missing the same key at once each compute it. `None` stands for a key
    /// `compute` gave no value for (it answered fewer values than keys).
    pub async fn get_many<F, Fut, E>(
        &self,
        keys: &[K],
        compute: F,
    ) -> Result<Vec<Option<Arc<Kept<V>>>>, E>
    where
        F: Fn(Vec<K>) -> Fut + Clone + Send + 'static,
        Fut: Future<Output = Result<Vec<V>, E>> + Send + 'static,
        E: Display + Send + 'static,
    {
        if self.inner.fresh_for.is_zero() {
            let kept = self.inner.compute(|| compute(keys.to_vec())).await?;
            return Ok(split(kept)
                .into_iter()
                .map(|kept| Some(Arc::new(kept)))
                .collect());
        }
        let now = Instant::now();
        let mut answers: Vec<Option<Arc<Kept<V>>>> = Vec::with_capacity(keys.len());
        let (mut missing, mut due) = (Vec::new(), Vec::new());
        for key in keys {
            let kept = self.slot(key).current();
            match kept.map(|kept| (use_of(&kept, self.inner.fresh_for, now), kept)) {
                Some((Use::Serve, kept)) => answers.push(Some(kept)),
                Some((Use::ServeAndRefresh, kept)) => {
                    due.push(key.clone());
                    answers.push(Some(kept));
                }
                Some((Use::Recompute, _)) | None => {
                    missing.push(key.clone());
                    answers.push(None);
                }
            }
        }
        if !due.is_empty() {
            self.refresh_many_behind(due, compute.clone());
        }
        if !missing.is_empty() {
            let kept = self.inner.compute(|| compute(missing.clone())).await?;
            let mut computed = self.store_each(&missing, kept).into_iter();
            for answer in answers.iter_mut().filter(|answer| answer.is_none()) {
                *answer = computed.next();
            }
            self.inner.forget_old(Instant::now());
        }
        Ok(answers)
    }

    /// Each of `keys` with its value of `kept` (in their order), kept from now.
    fn store_each(&self, keys: &[K], kept: Kept<Vec<V>>) -> Vec<Arc<Kept<V>>> {
        keys.iter()
            .zip(split(kept))
            .map(|(key, kept)| {
                let kept = Arc::new(kept);
                self.slot(key).store(Arc::clone(&kept));
                kept
            })
            .collect()
    }

    /// Computes the answers of `keys` together in a task of its own, but those computing
    /// already.
    fn refresh_many_behind<F, Fut, E>(&self, keys: Vec<K>, compute: F)
    where
        F: Fn(Vec<K>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Vec<V>, E>> + Send + 'static,
        E: Display + Send + 'static,
    {
        let (keys, computing): (Vec<K>, Vec<_>) = keys
            .into_iter()
            .filter_map(|key| {
                let slot = self.slot(&key);
                let computing = Arc::clone(&slot.computing).try_lock_owned().ok()?;
                Some((key, computing))
            })
            .unzip();
        if keys.is_empty() {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            let _computing = computing;
            let asked = keys.clone();
            match this.inner.compute(move || compute(asked)).await {
                Ok(kept) => {
                    this.store_each(&keys, kept);
                    this.inner.forget_old(Instant::now());
                }
                Err(error) => {
                    tracing::warn!(%error, "refreshing kept answers failed; the old ones are served")
                }
            }
        });
    }

    /// How many keys have an answer kept.
    #[cfg(test)]
    fn kept_count(&self) -> usize {
        self.inner
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .filter(|slot| slot.current().is_some())
            .count()
    }

    fn slot(&self, key: &K) -> Arc<Slot<V>> {
        let mut slots = self
            .inner
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Arc::clone(slots.entry(key.clone()).or_default())
    }

    /// Computes the key's answer in a task of its own, unless one is computing already.
    fn refresh_behind<F, Fut, E>(&self, slot: Arc<Slot<V>>, compute: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<V, E>> + Send + 'static,
        E: Display + Send + 'static,
    {
        let Ok(computing) = Arc::clone(&slot.computing).try_lock_owned() else {
            return;
        };
        let inner = Arc::clone(&self.inner);
        tokio::spawn(async move {
            let _computing = computing;
            match inner.compute(compute).await {
                Ok(kept) => {
                    slot.store(Arc::new(kept));
                    inner.forget_old(Instant::now());
                }
                Err(error) => {
                    tracing::warn!(%error, "refreshing a kept answer failed; the old one is served")
                }
            }
        });
    }
}

/// One computation's answers as each key's own, sharing its time.
fn split<V>(kept: Kept<Vec<V>>) -> Vec<Kept<V>> {
    let Kept {
        value,
        computed,
        took,
    } = kept;
    value
        .into_iter()
        .map(|value| Kept {
            value,
            computed,
            took,
        })
        .collect()
}

impl<K: Eq + Hash + Clone, V> Inner<K, V> {
    /// `compute`'s answer, computed in its turn.
    async fn compute<T, F, Fut, E>(&self, compute: F) -> Result<Kept<T>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        // Never closed, so the permit always comes; without one the computation runs anyway.
        let _turn = self.computing.acquire().await.ok();
        let started = Instant::now();
        let value = compute().await?;
        let computed = Instant::now();
        Ok(Kept {
            value,
            computed,
            took: computed.duration_since(started),
        })
    }

    /// Drops the answers past their serving age, then the longest unrefreshed beyond
    /// [`MAX_KEPT`]; a key being computed stays.
    fn forget_old(&self, now: Instant) {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let idle = |slot: &Slot<V>| slot.computing.try_lock().is_ok();
        slots.retain(|_, slot| {
            let servable = slot
                .current()
                .is_some_and(|kept| use_of(&kept, self.fresh_for, now) != Use::Recompute);
            servable || !idle(slot)
        });
        if slots.len() > MAX_KEPT {
            let mut by_age: Vec<(Instant, &K)> = slots
                .iter()
                .filter(|(_, slot)| idle(slot))
                .filter_map(|(key, slot)| slot.current().map(|kept| (kept.computed, key)))
                .collect();
            by_age.sort_by_key(|(computed, _)| *computed);
            let excess = slots.len() - MAX_KEPT;
            let dropped: Vec<K> = by_age
                .into_iter()
                .take(excess)
                .map(|(_, key)| key.clone())
                .collect();
            for key in &dropped {
                slots.remove(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A computation that counts itself, answers its count, and takes `takes`.
    fn counted(
        calls: &Arc<AtomicU32>,
        takes: Duration,
    ) -> impl FnOnce() -> std::pin::Pin<Box<dyn Future<Output = Result<u32, String>> + Send>>
           + Send
           + 'static {
        let calls = Arc::clone(calls);
        move || {
            Box::pin(async move {
                let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
                tokio::time::sleep(takes).await;
                Ok(n)
            })
        }
    }

    fn failing() -> impl FnOnce() -> std::future::Ready<Result<u32, String>> + Send + 'static {
        || std::future::ready(Err("store down".to_owned()))
    }

    #[test]
    fn an_answer_is_served_then_refreshed_behind_then_recomputed() {
        let kept = Kept {
            value: (),
            computed: Instant::now(),
            took: Duration::from_millis(10),
        };
        let fresh_for = Duration::from_secs(60);
        let at = |secs| kept.computed + Duration::from_secs(secs);
        assert_eq!(use_of(&kept, fresh_for, at(0)), Use::Serve);
        assert_eq!(use_of(&kept, fresh_for, at(59)), Use::Serve);
        assert_eq!(use_of(&kept, fresh_for, at(60)), Use::ServeAndRefresh);
        assert_eq!(use_of(&kept, fresh_for, at(599)), Use::ServeAndRefresh);
        assert_eq!(use_of(&kept, fresh_for, at(600)), Use::Recompute);
    }

    #[test]
    fn a_costly_answer_is_refreshed_less_often() {
        let kept = Kept {
            value: (),
            computed: Instant::now(),
            took: Duration::from_secs(12),
        };
        let fresh_for = Duration::from_secs(60);
        let at = |secs| kept.computed + Duration::from_secs(secs);
        assert_eq!(use_of(&kept, fresh_for, at(119)), Use::Serve, "10 × 12 s");
        assert_eq!(use_of(&kept, fresh_for, at(120)), Use::ServeAndRefresh);
        assert_eq!(use_of(&kept, fresh_for, at(1_199)), Use::ServeAndRefresh);
        assert_eq!(use_of(&kept, fresh_for, at(1_200)), Use::Recompute);
    }

    #[tokio::test]
    async fn a_fresh_answer_is_served_without_computing_again() {
        let answers = KeptAnswers::new(Duration::from_secs(60), 1);
        let calls = Arc::new(AtomicU32::new(0));
        let first = answers.get("a", counted(&calls, Duration::ZERO)).await;
        let second = answers.get("a", counted(&calls, Duration::ZERO)).await;
        assert_eq!(first.map(|k| k.value), Ok(1));
        assert_eq!(second.map(|k| k.value), Ok(1), "the kept answer");
        let other = answers.get("b", counted(&calls, Duration::ZERO)).await;
        assert_eq!(
            other.map(|k| k.value),
            Ok(2),
            "another key computes its own"
        );
        assert_eq!(answers.kept_count(), 2);
    }

    #[tokio::test]
    async fn zero_freshness_computes_every_time_and_keeps_nothing() {
        let answers = KeptAnswers::new(Duration::ZERO, 1);
        let calls = Arc::new(AtomicU32::new(0));
        for expected in 1..=3 {
            let got = answers.get("a", counted(&calls, Duration::ZERO)).await;
            assert_eq!(got.map(|k| k.value), Ok(expected));
        }
        assert_eq!(answers.kept_count(), 0);
    }

    #[tokio::test]
    async fn concurrent_requests_without_an_answer_wait_for_one_computation() {
        let answers = KeptAnswers::new(Duration::from_secs(60), 4);
        let calls = Arc::new(AtomicU32::new(0));
        let asks: Vec<_> = (0..5)
            .map(|_| {
                let answers = answers.clone();
                let compute = counted(&calls, Duration::from_millis(100));
                tokio::spawn(async move { answers.get("a", compute).await.map(|k| k.value) })
            })
            .collect();
        for ask in asks {
            assert_eq!(ask.await.expect("joined"), Ok(1));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn at_most_max_computing_computations_run_at_once_across_keys() {
        let answers = KeptAnswers::new(Duration::from_secs(60), 1);
        let running = Arc::new(AtomicU32::new(0));
        let most = Arc::new(AtomicU32::new(0));
        let asks: Vec<_> = ["a", "b", "c"]
            .into_iter()
            .map(|key| {
                let answers = answers.clone();
                let (running, most) = (Arc::clone(&running), Arc::clone(&most));
                tokio::spawn(async move {
                    answers
                        .get(key, move || async move {
                            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(now, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            running.fetch_sub(1, Ordering::SeqCst);
                            Ok::<_, String>(now)
                        })
                        .await
                        .map(|k| k.value)
                })
            })
            .collect();
        for ask in asks {
            assert_eq!(ask.await.expect("joined"), Ok(1));
        }
        assert_eq!(most.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stale_answer_is_served_while_one_refresh_replaces_it() {
        let answers = KeptAnswers::new(Duration::from_secs(60), 1);
        let calls = Arc::new(AtomicU32::new(0));
        let first = answers.get("a", counted(&calls, Duration::ZERO)).await;
        assert_eq!(first.map(|k| k.value), Ok(1));
        tokio::time::advance(Duration::from_secs(61)).await;
        // Stale: served at once, twice, while a single refresh (taking 5 s) runs behind.
        for _ in 0..2 {
            let stale = answers
                .get("a", counted(&calls, Duration::from_secs(5)))
                .await;
            assert_eq!(stale.map(|k| k.value), Ok(1));
        }
        tokio::time::sleep(Duration::from_secs(6)).await;
        let refreshed = answers.get("a", counted(&calls, Duration::ZERO)).await;
        assert_eq!(refreshed.map(|k| k.value), Ok(2));
        assert_eq!(calls.load(Ordering::SeqCst), 2, "one refresh");
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_refresh_keeps_the_old_answer_and_a_failed_first_computation_keeps_none() {
        let answers = KeptAnswers::new(Duration::from_secs(60), 1);
        let none = answers.get("a", failing()).await;
        assert_eq!(none.map(|k| k.value), Err("store down".to_owned()));
        assert_eq!(answers.kept_count(), 0);
        let calls = Arc::new(AtomicU32::new(0));
        let first = answers.get("a", counted(&calls, Duration::ZERO)).await;
        assert_eq!(first.map(|k| k.value), Ok(1));
        tokio::time::advance(Duration::from_secs(61)).await;
        let stale = answers.get("a", failing()).await;
        assert_eq!(stale.map(|k| k.value), Ok(1));
        tokio::task::yield_now().await;
        let still = answers.get("a", failing()).await;
        assert_eq!(
            still.map(|k| k.value),
            Ok(1),
            "the refresh failed; the old answer stays"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_past_its_serving_age_is_computed_again_while_the_request_waits() {
        let answers = KeptAnswers::new(Duration::from_secs(60), 1);
        let calls = Arc::new(AtomicU32::new(0));
        let _ = answers.get("a", counted(&calls, Duration::ZERO)).await;
        tokio::time::advance(Duration::from_secs(600)).await;
        let fresh = answers.get("a", counted(&calls, Duration::ZERO)).await;
        assert_eq!(fresh.map(|k| k.value), Ok(2));
    }

    type Answering = std::pin::Pin<Box<dyn Future<Output = Result<Vec<String>, String>> + Send>>;

    /// A computation of several keys that records which keys it was asked, and answers each
    /// key with its name and the computation's number.
    fn recorded(
        asked: &Arc<Mutex<Vec<Vec<&'static str>>>>,
        takes: Duration,
    ) -> impl Fn(Vec<&'static str>) -> Answering + Clone + Send + 'static {
        let asked = Arc::clone(asked);
        move |keys: Vec<&'static str>| {
            let asked = Arc::clone(&asked);
            Box::pin(async move {
                let n = {
                    let mut asked = asked.lock().unwrap();
                    asked.push(keys.clone());
                    asked.len()
                };
                tokio::time::sleep(takes).await;
                Ok(keys.iter().map(|k| format!("{k}{n}")).collect())
            })
        }
    }

    fn values(answers: Result<Vec<Option<Arc<Kept<String>>>>, String>) -> Vec<Option<String>> {
        answers
            .unwrap()
            .into_iter()
            .map(|kept| kept.map(|k| k.value.clone()))
            .collect()
    }

    #[tokio::test]
    async fn several_keys_compute_only_those_without_an_answer_together() {
        let answers = KeptAnswers::new(Duration::from_secs(60), 1);
        let asked = Arc::new(Mutex::new(Vec::new()));
        let first = answers
            .get_many(&["a", "b"], recorded(&asked, Duration::ZERO))
            .await;
        assert_eq!(values(first), [Some("a1".into()), Some("b1".into())]);
        let second = answers
            .get_many(&["c", "a", "d", "b"], recorded(&asked, Duration::ZERO))
            .await;
        assert_eq!(
            values(second),
            [
                Some("c2".into()),
                Some("a1".into()),
                Some("d2".into()),
                Some("b1".into())
            ],
            "the kept ones served, the others from one computation, in the keys' order"
        );
        assert_eq!(*asked.lock().unwrap(), [vec!["a", "b"], vec!["c", "d"]]);
        let kept = answers
            .get("d", || {
                std::future::ready(Err::<String, _>("not computed again".to_owned()))
            })
            .await;
        assert_eq!(
            kept.map(|k| k.value.clone()),
            Ok("d2".to_owned()),
            "each key's own"
        );
    }

    #[tokio::test]
    async fn several_keys_without_freshness_are_computed_every_time() {
        let answers = KeptAnswers::new(Duration::ZERO, 1);
        let asked = Arc::new(Mutex::new(Vec::new()));
        for n in 1..=2 {
            let got = answers
                .get_many(&["a", "b"], recorded(&asked, Duration::ZERO))
                .await;
            assert_eq!(values(got), [Some(format!("a{n}")), Some(format!("b{n}"))]);
        }
        assert_eq!(answers.kept_count(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn stale_keys_are_served_while_one_refresh_of_them_runs_behind() {
        let answers = KeptAnswers::new(Duration::from_secs(60), 1);
        let asked = Arc::new(Mutex::new(Vec::new()));
        let _ = answers
            .get_many(&["a", "b"], recorded(&asked, Duration::ZERO))
            .await;
        tokio::time::advance(Duration::from_secs(61)).await;
        // "c" is new: computed in the request; "a" and "b" are stale: served, refreshed behind
        // (5 s), once for both requests.
        for _ in 0..2 {
            let got = answers
                .get_many(&["a", "c", "b"], recorded(&asked, Duration::from_secs(5)))
                .await;
            let got = values(got);
            assert_eq!((&got[0], &got[2]), (&Some("a1".into()), &Some("b1".into())));
        }
        tokio::time::sleep(Duration::from_secs(6)).await;
        let refreshed = answers
            .get_many(&["a", "b"], recorded(&asked, Duration::ZERO))
            .await;
        assert_eq!(values(refreshed), [Some("a3".into()), Some("b3".into())]);
        assert_eq!(
            *asked.lock().unwrap(),
            [vec!["a", "b"], vec!["c"], vec!["a", "b"]],
            "the new key computed by the first request, then one refresh of the stale ones together"
        );
    }

    #[tokio::test]
    async fn at_most_max_kept_keys_are_kept() {
        let answers = KeptAnswers::new(Duration::from_secs(60), 1);
        let calls = Arc::new(AtomicU32::new(0));
        for key in 0..MAX_KEPT + 10 {
            let _ = answers.get(key, counted(&calls, Duration::ZERO)).await;
        }
        assert_eq!(answers.kept_count(), MAX_KEPT);
        // The newest are kept.
        let newest = answers
            .get(MAX_KEPT + 9, counted(&calls, Duration::ZERO))
            .await;
        assert_eq!(newest.map(|k| k.value), Ok(MAX_KEPT as u32 + 10));
    }
}
