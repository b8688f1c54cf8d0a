//! The one update stream: every browser gets its own bounded queue of server-sent events.
//! Publishing (on the coordinator's thread) pushes into each queue and never waits on a
//! client: a full queue drops its oldest event, so a slow or hung browser loses updates
//! instead of slowing the run.
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// Events a client may have waiting before the oldest is dropped (seconds of updates).
pub const QUEUE_CAPACITY: usize = 16;
/// Browsers streaming at once; a newer one past this replaces the oldest.
pub const MAX_CLIENTS: usize = 32;

/// One event as the wire carries it: `event: NAME\ndata: JSON\n\n`.
pub fn event(name: &str, data: &serde_json::Value) -> Arc<str> {
    // JSON text holds no raw newline, so one `data:` line carries it.
    Arc::from(format!("event: {name}\ndata: {data}\n\n"))
}

/// What a client's connection thread gets next.
#[derive(Debug, PartialEq)]
pub enum Next {
    Event(Arc<str>),
    /// Nothing within the wait.
    Idle,
    /// The stream is over (the client was replaced, or the server closed it).
    Closed,
}

#[derive(Default)]
struct Inner {
    events: VecDeque<Arc<str>>,
    dropped: u64,
    closed: bool,
}

/// One client's bounded queue.
#[derive(Default)]
pub struct Queue {
    inner: Mutex<Inner>,
    ready: Condvar,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds `e`, dropping the oldest event when full. Never blocks on the client.
    pub fn push(&self, e: Arc<str>) {
        let mut q = self.lock();
        if q.events.len() >= QUEUE_CAPACITY {
            q.events.pop_front();
            q.dropped += 1;
        }
        q.events.push_back(e);
        drop(q);
        self.ready.notify_one();
    }

    /// The next event, waiting at most `wait`.
    pub fn next(&self, wait: Duration) -> Next {
        let q = self.lock();
        let (mut q, _) = self
            .ready
            .wait_timeout_while(q, wait, |q| q.events.is_empty() && !q.closed)
            .unwrap_or_else(|e| e.into_inner());
        match q.events.pop_front() {
            Some(e) => Next::Event(e),
            None if q.closed => Next::Closed,
            None => Next::Idle,
        }
    }

    /// Ends the stream; the publisher forgets the queue on its next push.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }

    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Events waiting now.
    pub fn len(&self) -> usize {
        self.lock().events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Events dropped because the client fell behind.
    pub fn dropped(&self) -> u64 {
        self.lock().dropped
    }
}

/// Every connected client's queue.
#[derive(Default)]
pub struct Hub {
    clients: Mutex<Vec<Arc<Queue>>>,
}

impl Hub {
    fn lock(&self) -> MutexGuard<'_, Vec<Arc<Queue>>> {
        self.clients.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new client's queue; past `MAX_CLIENTS` the oldest client's stream is ended.
    pub fn subscribe(&self) -> Arc<Queue> {
        let q = Arc::new(Queue::default());
        let mut clients = self.lock();
        clients.retain(|c| !c.is_closed());
        if clients.len() >= MAX_CLIENTS {
            clients.remove(0).close();
        }
        clients.push(q.clone());
        q
    }

    /// Queues `e` for every client.
    pub fn publish(&self, e: &Arc<str>) {
        let mut clients = self.lock();
        clients.retain(|c| !c.is_closed());
        for c in clients.iter() {
            c.push(e.clone());
        }
    }

    pub fn clients(&self) -> usize {
        let mut clients = self.lock();
        clients.retain(|c| !c.is_closed());
        clients.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_that_never_reads_keeps_only_the_newest_events() {
        let hub = Hub::default();
        let slow = hub.subscribe();
        for i in 0..1000 {
            hub.publish(&Arc::from(format!("{i}")));
        }
        assert_eq!(slow.len(), QUEUE_CAPACITY);
        assert_eq!(slow.dropped(), 1000 - QUEUE_CAPACITY as u64);
        let first = 1000 - QUEUE_CAPACITY;
        assert_eq!(
            slow.next(Duration::ZERO),
            Next::Event(Arc::from(first.to_string()))
        );
    }

    #[test]
    fn a_closed_client_is_forgotten_and_its_reader_told() {
        let hub = Hub::default();
        let q = hub.subscribe();
        assert_eq!(q.next(Duration::from_millis(1)), Next::Idle);
        q.close();
        assert_eq!(q.next(Duration::from_secs(5)), Next::Closed);
        hub.publish(&Arc::from("x"));
        assert_eq!(hub.clients(), 0);
    }

    #[test]
    fn clients_past_the_cap_end_the_oldest_stream() {
        let hub = Hub::default();
        let first = hub.subscribe();
        for _ in 0..MAX_CLIENTS {
            hub.subscribe();
        }
        assert!(first.is_closed());
        assert_eq!(hub.clients(), MAX_CLIENTS);
    }

    #[test]
    fn events_are_one_data_line() {
        let e = event("second", &serde_json::json!({"name": "a\nb"}));
        assert_eq!(&*e, "event: second\ndata: {\"name\":\"a\\nb\"}\n\n");
    }
}
