// QueueScheduler.swift: the outbound queue's decisions, as pure functions:
// what to deliver now and over which connections, what an attempt's outcome
// does to a recipient (backoff, expiry), when to look again, and when the
// sender is owed a DSN. No I/O, no clock, no randomness of its own: the
// time and a random number for the jitter are inputs, so tests drive it
// with an injected clock.
//
// The daemon's loop around it (each step durable before the next):
//   scan -> for each entry: notifications(for:) -> render and store each DSN
//   under its identifier (storing twice finds it there) -> markProduced ->
//   QueueStore.update -> if isFinished: QueueStore.remove
//   -> plan -> one connection per job -> results(from:) -> record ->
//   QueueStore.update -> (DSNs as above) -> sleep until nextWakeup or a
//   job ends.
//
// Untrusted input: none parsed here (the outcomes carry remote replies,
// which DeliveryAttemptOutcome sanitizes).
// Standards: RFC 5321 §4.5.4.1 (retry strategy: at least 30 minutes
// between attempts to one destination is recommended; an onion service that
// is offline is often back within minutes, hence Postfix's shorter first
// retry), §4.5.4.1 (give up after 4-5 days), §6.1 (a bounce is owed for a
// message that cannot be delivered, never for a bounce: the null reverse
// path), RFC 3464 (DSN actions).

/// The queue's scheduling policy over entries read by `QueueStore`.
public struct QueueScheduler: Sendable {
    /// Backoff, lifetime, warning and concurrency settings.
    public var settings: QueueSettings

    /// Creates a scheduler.
    public init(settings: QueueSettings = QueueSettings()) {
        self.settings = settings
    }

    // MARK: Destinations

    /// The destination key of a recipient, the onion host name
    /// (`<56 characters>.onion`), and the fingerprint label its address
    /// carries. A domain that is not an onion address (never queued by
    /// `enqueue`) is its own key; Tor will refuse it.
    public func destination(of recipient: Mailbox) -> (host: String, fingerprintLabel: String?) {
        if let address = try? Address.parseSMTorP(recipient.text) {
            return (address.onion.hostname, address.fingerprintLabel)
        }
        return (lowercasedASCII(recipient.domain), nil)
    }

    // MARK: Planning

    /// The connections to open now. Due recipients (pending or deferred,
    /// next attempt at or before `now`) are grouped by destination onion:
    /// all due recipients at one onion, from every message, go into one job
    /// (one connection), at most `maximumMessagesPerConnection` messages of
    /// it, earliest due first. Destinations in `busyDestinations` (a
    /// connection is open to them) are skipped; the busy ones count against
    /// `maximumConcurrentDestinations`. Destinations whose earliest due
    /// recipient is earliest go first.
    ///
    /// Recipients at one onion whose fingerprint labels disagree (neither is
    /// a prefix of the other) cannot share a certificate check: those that
    /// disagree with the first are left for a later job.
    public func plan(entries: [QueueEntry], now: Int64, busyDestinations: [String]) -> [DeliveryJob] {
        struct Pending {
            var due: Int64
            var message: DeliveryJob.Message
        }
        struct Group {
            var host: String
            var label: String?
            var earliest: Int64
            var messages: [Pending]
        }
        var groups: [Group] = []
        var groupIndex: [String: Int] = [:]
        for entry in entries.sorted(by: { $0.id < $1.id }) {
            var byHost: [String: Int] = [:]  // host -> index in groups[g].messages
            for (index, state) in entry.states.enumerated() {
                guard !state.status.isFinal, state.nextAttempt <= now else { continue }
                let recipient = entry.recipients[index]
                let destination = destination(of: recipient)
                if busyDestinations.contains(destination.host) { continue }
                let g: Int
                if let existing = groupIndex[destination.host] {
                    g = existing
                } else {
                    g = groups.count
                    groupIndex[destination.host] = g
                    groups.append(Group(host: destination.host, label: nil, earliest: state.nextAttempt, messages: []))
                }
                guard let label = Self.compatibleLabel(groups[g].label, destination.fingerprintLabel) else {
                    continue  // a label that contradicts the job's: a later job
                }
                groups[g].label = label.isEmpty ? nil : label
                groups[g].earliest = min(groups[g].earliest, state.nextAttempt)
                // A carried stamp is good for the first attempt only.
                let stamp = state.attempts == 0 ? entry.stamps[index] : nil
                if let m = byHost[destination.host] {
                    groups[g].messages[m].due = min(groups[g].messages[m].due, state.nextAttempt)
                    groups[g].messages[m].message.recipientIndices.append(index)
                    groups[g].messages[m].message.recipients.append(recipient)
                    groups[g].messages[m].message.stamps.append(stamp)
                } else {
                    byHost[destination.host] = groups[g].messages.count
                    var message = DeliveryJob.Message(id: entry.id, reversePath: entry.reversePath,
                                                      recipientIndices: [index], recipients: [recipient])
                    message.stamps = [stamp]
                    groups[g].messages.append(Pending(due: state.nextAttempt, message: message))
                }
            }
        }
        let slots = max(0, settings.maximumConcurrentDestinations - busyDestinations.count)
        let ordered = groups.sorted { a, b in
            a.earliest != b.earliest ? a.earliest < b.earliest
                : a.messages[0].message.id < b.messages[0].message.id
        }
        return ordered.prefix(slots).map { group in
            let messages = group.messages.sorted { a, b in
                a.due != b.due ? a.due < b.due : a.message.id < b.message.id
            }
            return DeliveryJob(destination: group.host, fingerprintLabel: group.label,
                               messages: messages.prefix(max(1, settings.maximumMessagesPerConnection)).map { $0.message })
        }
    }

    /// The label a job checks after adding a recipient's `label` to the
    /// job's `current` one: the longer when one is a prefix of the other
    /// ("" for none), nil when they contradict.
    static func compatibleLabel(_ current: String?, _ label: String?) -> String? {
        let a = Array((current ?? "").utf8)
        let b = Array((label ?? "").utf8)
        let (short, long) = a.count <= b.count ? (a, b) : (b, a)
        guard Array(long.prefix(short.count)) == short else { return nil }
        return String(decoding: long, as: UTF8.self)
    }

    // MARK: Recording outcomes

    /// The wait after the `attempts`-th failed attempt: `minimalBackoff`
    /// doubled per further attempt up to `maximalBackoff` (300, 600, 1200,
    /// 2400, 4000, 4000... by default), then stretched by the jitter:
    /// `random` in 0..<1 maps to a factor in [1 - jitter, 1 + jitter).
    public func backoff(afterAttempts attempts: Int, random: Double) -> Int64 {
        var wait = max(1, settings.minimalBackoff)
        var n = 1
        while n < attempts && wait < settings.maximalBackoff {
            wait *= 2
            n += 1
        }
        wait = min(wait, max(1, settings.maximalBackoff))
        let r = random.isFinite ? min(max(random, 0), 0.999_999_999) : 0.5
        let offset = Double(wait) * settings.backoffJitter * (2 * r - 1)
        return max(1, wait + Int64(offset))
    }

    /// Applies the outcome of an attempt at `now` to recipient `index`:
    /// - delivered: final;
    /// - a permanent failure (5yz, a permanent Tor error such as an invalid
    ///   onion address, a fingerprint-label mismatch): failed, final;
    /// - a temporary failure (4yz, a temporary Tor or connection error, a
    ///   certificate pin mismatch): deferred until now + backoff (with
    ///   `random` for the jitter), but never past the end of the message's
    ///   lifetime, so the last attempt comes at expiry; a temporary failure
    ///   at or after the end of the lifetime is final: failed, 5.4.7,
    ///   "expired after N days: <reason>".
    /// A recipient already final is left alone.
    public func record(_ outcome: DeliveryAttemptOutcome, recipient index: Int, in entry: inout QueueEntry,
                       now: Int64, random: Double) {
        guard entry.states.indices.contains(index), !entry.states[index].status.isFinal else { return }
        var state = entry.states[index]
        state.attempts += 1
        state.lastAttempt = now
        state.statusCode = outcome.statusCode
        state.reply = outcome.diagnostic
        state.reason = RecipientState.sanitizedLine(outcome.reason)
        let expiry = entry.arrival + settings.maximalLifetime
        if outcome.isDelivered {
            state.status = .delivered
        } else if outcome.isPermanentFailure {
            state.status = .failed
        } else if now >= expiry {
            state.status = .failed
            state.statusCode = EnhancedStatusCode(5, 4, 7)  // delivery time expired
            state.reason = RecipientState.sanitizedLine(
                "expired after " + Self.duration(settings.maximalLifetime) + ": " + state.reason)
        } else if outcome.proofOfWorkRequirements != nil
                    && PowExtension.requirements(inReplyText: entry.states[index].reply) == nil {
            // The server asked for (more) proof of work and said how much:
            // solve again and retry at once, once; if it asks again after
            // that, the normal backoff applies (docs/spec.md §5.5).
            state.status = .deferred
            state.nextAttempt = now
        } else {
            state.status = .deferred
            state.nextAttempt = min(now + backoff(afterAttempts: state.attempts, random: random), expiry)
        }
        entry.states[index] = state
    }

    /// Applies every outcome of a job's result to its message's entry (one
    /// random number for all: recipients deferred together stay together).
    public func record(_ result: DeliveryJob.Result, in entry: inout QueueEntry, now: Int64, random: Double) {
        precondition(result.id == entry.id, "the result of another message")
        for index in result.outcomes.keys.sorted() {
            if let outcome = result.outcomes[index] {
                record(outcome, recipient: index, in: &entry, now: now, random: random)
            }
        }
    }

    /// "5 days", "1 day", "4 hours", "90 seconds".
    static func duration(_ seconds: Int64) -> String {
        func unit(_ n: Int64, _ name: String) -> String { String(n) + " " + name + (n == 1 ? "" : "s") }
        if seconds > 0 && seconds % 86_400 == 0 { return unit(seconds / 86_400, "day") }
        if seconds > 0 && seconds % 3600 == 0 { return unit(seconds / 3600, "hour") }
        if seconds > 0 && seconds % 60 == 0 { return unit(seconds / 60, "minute") }
        return unit(seconds, "second")
    }

    // MARK: Waking up

    /// When the daemon should scan again: now if a message is finished (to
    /// remove) or owes a DSN; else the earliest of the next attempts and of
    /// the delay warnings due. Work that is due but waits for a connection
    /// slot (its destination is in `busyDestinations`, or every slot is
    /// taken) is left out: the end of a job is the wake-up for it. Nil when
    /// nothing is waiting for a time.
    public func nextWakeup(entries: [QueueEntry], now: Int64, busyDestinations: [String] = []) -> Int64? {
        var earliest: Int64? = nil
        func consider(_ time: Int64) { earliest = min(earliest ?? time, time) }
        let slotsFull = busyDestinations.count >= settings.maximumConcurrentDestinations
        for entry in entries {
            if entry.isFinished || !notifications(for: entry, now: now).isEmpty {
                consider(now)
                continue
            }
            for (index, state) in entry.states.enumerated() where !state.status.isFinal {
                if state.nextAttempt > now {
                    consider(state.nextAttempt)
                } else if !slotsFull && !busyDestinations.contains(destination(of: entry.recipients[index]).host) {
                    consider(now)
                }
                if let warning = delayWarningTime(entry), !state.delayWarned {
                    consider(max(warning, now))
                }
            }
        }
        return earliest.map { max($0, now) }
    }

    // MARK: Delivery status notifications

    /// When the entry's recipients earn a delay warning, or nil when none
    /// is sent (off, or the null sender).
    func delayWarningTime(_ entry: QueueEntry) -> Int64? {
        guard settings.delayWarningTime > 0, entry.reversePath != nil else { return nil }
        return entry.arrival + settings.delayWarningTime
    }

    /// The DSNs the entry's sender is owed now:
    /// - a failure DSN for the failed recipients not yet reported;
    /// - a delay warning for the recipients still undelivered after
    ///   `delayWarningTime` and not yet warned (once per recipient).
    /// None ever for the null reverse path `<>`: a bounce is never bounced
    /// (RFC 5321 §6.1, RFC 3464 §1). Once produced (and stored), record it
    /// with `markProduced` and store the state: it is then never decided
    /// again.
    public func notifications(for entry: QueueEntry, now: Int64) -> [NotificationRequest] {
        guard let sender = entry.reversePath else { return [] }
        var requests: [NotificationRequest] = []
        let retryUntil = entry.arrival + settings.maximalLifetime
        let failed = entry.states.indices.filter {
            entry.states[$0].status == .failed && !entry.states[$0].failureReported
        }
        if let first = failed.first {
            requests.append(NotificationRequest(kind: .failure, id: entry.id, recipientIndices: failed, sender: sender,
                                                identifier: entry.id.text + ".failed." + String(first),
                                                retryUntil: retryUntil))
        }
        if let warning = delayWarningTime(entry), now >= warning {
            let delayed = entry.states.indices.filter {
                !entry.states[$0].status.isFinal && !entry.states[$0].delayWarned
            }
            if let first = delayed.first {
                requests.append(NotificationRequest(kind: .delay, id: entry.id, recipientIndices: delayed,
                                                    sender: sender,
                                                    identifier: entry.id.text + ".delayed." + String(first),
                                                    retryUntil: retryUntil))
            }
        }
        return requests
    }

    /// Records that the DSN `request` was produced: its recipients are
    /// marked reported (failure) or warned (delay). Store the entry's state
    /// afterwards; only then may a finished message be removed.
    public func markProduced(_ request: NotificationRequest, in entry: inout QueueEntry) {
        precondition(request.id == entry.id, "a notification for another message")
        for index in request.recipientIndices where entry.states.indices.contains(index) {
            switch request.kind {
            case .failure: entry.states[index].failureReported = true
            case .delay: entry.states[index].delayWarned = true
            }
        }
    }
}
