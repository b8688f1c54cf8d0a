//! One server thread's open connections, so that at the connection cap a new client can
//! take the place of the one that has waited longest for a request (an idle keep-alive or a
//! slowloris connection) instead of waiting behind them. Single-threaded: each server thread
//! owns its registry, shared by its tasks through an `Rc`.
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

/// A connection's flag that it must close, and the waker of its task.
#[derive(Debug, Default)]
pub struct Eviction {
    evicted: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

impl Eviction {
    fn evict(&self) {
        self.evicted.set(true);
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }

    /// Resolves once the connection has been evicted.
    pub fn wait(&self) -> Evicted<'_> {
        Evicted(self)
    }
}

/// Future of [`Eviction::wait`].
pub struct Evicted<'a>(&'a Eviction);

impl Future for Evicted<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0.evicted.get() {
            return Poll::Ready(());
        }
        *self.0.waker.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    }
}

#[derive(Debug)]
struct Entry {
    /// Since when it has waited for a request (None while one is being answered).
    waiting_since: Option<Instant>,
    eviction: Rc<Eviction>,
}

/// The open connections of one server thread.
#[derive(Debug)]
pub struct Registry {
    cap: usize,
    slots: Vec<Option<Entry>>,
    open: usize,
}

/// A connection's place in the registry; it leaves the registry when dropped.
pub struct Ticket {
    registry: Rc<RefCell<Registry>>,
    slot: usize,
    pub eviction: Rc<Eviction>,
}

impl Ticket {
    /// Marks the connection as waiting for a request since `since` (evictable), or as busy.
    pub fn waiting(&self, since: Option<Instant>) {
        if let Some(Some(e)) = self.registry.borrow_mut().slots.get_mut(self.slot) {
            e.waiting_since = since;
        }
    }
}

impl Drop for Ticket {
    /// Leaves the registry, unless eviction already took this ticket out (its slot may hold
    /// a newer connection by now).
    fn drop(&mut self) {
        let mut r = self.registry.borrow_mut();
        let mine = |e: &Entry| Rc::ptr_eq(&e.eviction, &self.eviction);
        if let Some(slot) = r
            .slots
            .get_mut(self.slot)
            .filter(|s| s.as_ref().is_some_and(mine))
        {
            *slot = None;
            r.open -= 1;
        }
    }
}

impl Registry {
    pub fn new(cap: usize) -> Rc<RefCell<Registry>> {
        Rc::new(RefCell::new(Registry {
            cap: cap.max(1),
            slots: Vec::new(),
            open: 0,
        }))
    }

    /// Registers a new connection, evicting the longest-waiting one when at the cap.
    /// None when at the cap with every connection busy: the new one must be turned away.
    pub fn admit(this: &Rc<RefCell<Registry>>) -> Option<Ticket> {
        let mut r = this.borrow_mut();
        if r.open >= r.cap && !r.evict_longest_waiting() {
            return None;
        }
        let eviction = Rc::new(Eviction::default());
        let entry = Entry {
            waiting_since: Some(Instant::now()),
            eviction: eviction.clone(),
        };
        let slot = match r.slots.iter().position(Option::is_none) {
            Some(i) => i,
            None => {
                r.slots.push(None);
                r.slots.len() - 1
            }
        };
        r.slots[slot] = Some(entry);
        r.open += 1;
        Some(Ticket {
            registry: this.clone(),
            slot,
            eviction,
        })
    }

    /// Evicts the connection that has waited longest for a request; false if none waits.
    /// It leaves the registry now (its task closes it at its next poll), so its slot is free.
    fn evict_longest_waiting(&mut self) -> bool {
        let oldest = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, e)| Some((e.as_ref()?.waiting_since?, i)))
            .min();
        let Some((_, i)) = oldest else {
            return false;
        };
        if let Some(e) = self.slots[i].take() {
            e.eviction.evict();
            self.open -= 1;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Wake;
    use std::time::Duration;

    struct Noop;
    impl Wake for Noop {
        fn wake(self: std::sync::Arc<Self>) {}
    }

    fn evicted(t: &Ticket) -> bool {
        let waker = Waker::from(std::sync::Arc::new(Noop));
        let mut cx = Context::from_waker(&waker);
        let mut f = t.eviction.wait();
        Pin::new(&mut f).poll(&mut cx).is_ready()
    }

    #[test]
    fn at_the_cap_the_longest_waiting_connection_makes_room() {
        let r = Registry::new(2);
        let a = Registry::admit(&r).unwrap();
        let b = Registry::admit(&r).unwrap();
        let t0 = Instant::now();
        a.waiting(Some(t0 + Duration::from_secs(2)));
        b.waiting(Some(t0 + Duration::from_secs(1)));
        let c = Registry::admit(&r).unwrap();
        assert!(evicted(&b) && !evicted(&a) && !evicted(&c));
        assert_eq!(r.borrow().open, 2);
        assert_eq!(c.slot, b.slot, "the newcomer took the evicted one's place");
        drop(b);
        assert_eq!(r.borrow().open, 2, "an evicted ticket is already out");
        drop((a, c));
        assert_eq!(r.borrow().open, 0);
    }

    #[test]
    fn busy_connections_are_never_evicted_and_the_newcomer_is_refused() {
        let r = Registry::new(1);
        let a = Registry::admit(&r).unwrap();
        a.waiting(None);
        assert!(Registry::admit(&r).is_none());
        assert!(!evicted(&a));
        drop(a);
        assert!(
            Registry::admit(&r).is_some(),
            "a closed connection frees its place"
        );
    }
}
