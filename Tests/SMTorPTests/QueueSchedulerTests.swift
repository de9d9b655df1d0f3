// QueueSchedulerTests.swift: the pure queue scheduler with an injected clock
// and injected randomness: grouping by onion across messages, concurrency
// and per-connection limits, busy destinations, backoff and jitter, the
// temporary/permanent mapping, expiry, delay warnings and DSN decisions, and
// one whole round through the store as the daemon will run it.
import Foundation
import XCTest
@testable import SMTorP

final class QueueSchedulerTests: XCTestCase {
    let t0: Int64 = 1_790_000_000
    var sequence: UInt32 = 0

    /// An entry with recipients at the given onions (key numbers), all
    /// pending since `arrival`.
    func entry(_ onions: [UInt8], arrival: Int64? = nil, sender: Mailbox? = sampleMailbox("alice", 1)) -> QueueEntry {
        sequence += 1
        let at = arrival ?? t0
        let id = QueueID(unixSeconds: at, sequence: sequence, random: [0, 0, 0, 0, 0, 0, 0, 1])
        let recipients = onions.enumerated().map { sampleMailbox("r\($0.offset)", $0.element) }
        return QueueEntry(id: id, arrival: at, reversePath: sender, recipients: recipients, size: 10,
                          states: recipients.map { _ in .pending(arrival: at) })
    }

    let tempfail = DeliveryAttemptOutcome.temporaryFailure(Reply(451, EnhancedStatusCode(4, 3, 0), "try later"))
    let permfail = DeliveryAttemptOutcome.permanentFailure(Reply(550, EnhancedStatusCode(5, 1, 1), "no such user"))
    let delivered = DeliveryAttemptOutcome.delivered(Reply(250, EnhancedStatusCode(2, 0, 0), "Ok: queued as Q"))

    func testGroupsRecipientsByOnionAcrossMessages() {
        let a = entry([2, 3, 2])
        let b = entry([3, 4])
        let c = entry([2])
        let jobs = QueueScheduler().plan(entries: [c, b, a], now: t0, busyDestinations: [])
        XCTAssertEqual(jobs.map { $0.destination }.sorted(), [sampleOnion(2), sampleOnion(3), sampleOnion(4)].sorted())
        let two = jobs.first { $0.destination == sampleOnion(2) }!
        XCTAssertEqual(two.messages.map { $0.id }, [a.id, c.id], "one connection, messages in queue order")
        XCTAssertEqual(two.messages[0].recipientIndices, [0, 2], "one transaction for both recipients of a")
        XCTAssertEqual(two.messages[0].recipients.map { $0.localPart }, ["r0", "r2"])
        let three = jobs.first { $0.destination == sampleOnion(3) }!
        XCTAssertEqual(three.messages.map { $0.id }, [a.id, b.id])
        XCTAssertEqual(three.messages.map { $0.recipientIndices }, [[1], [0]])
        // A fingerprint label does not make another destination.
        var labelled = entry([5])
        labelled.recipients[0] = sampleMailbox("x", 5, label: "abcdefghijklmnopqrst")
        let plain = entry([5])
        let jobs5 = QueueScheduler().plan(entries: [labelled, plain], now: t0, busyDestinations: [])
        XCTAssertEqual(jobs5.count, 1)
        XCTAssertEqual(jobs5[0].fingerprintLabel, "abcdefghijklmnopqrst")
        XCTAssertEqual(jobs5[0].messages.count, 2)
    }

    func testContradictingFingerprintLabelsWaitForALaterJob() {
        var a = entry([5, 5, 5])
        a.recipients[0] = sampleMailbox("x", 5, label: "abcdefghijklmnop")
        a.recipients[1] = sampleMailbox("y", 5, label: "abcdefghijklmnopqrst")  // longer, compatible
        a.recipients[2] = sampleMailbox("z", 5, label: "zzzzzzzzzzzzzzzz")  // contradicts
        let jobs = QueueScheduler().plan(entries: [a], now: t0, busyDestinations: [])
        XCTAssertEqual(jobs.count, 1)
        XCTAssertEqual(jobs[0].fingerprintLabel, "abcdefghijklmnopqrst")
        XCTAssertEqual(jobs[0].messages[0].recipientIndices, [0, 1])
    }

    func testConcurrencyLimitAndBusyDestinations() {
        let entries = (2...13).map { entry([UInt8($0)]) }  // 12 destinations
        let scheduler = QueueScheduler()
        XCTAssertEqual(scheduler.plan(entries: entries, now: t0, busyDestinations: []).count, 10)
        let busy = [sampleOnion(2), sampleOnion(3), sampleOnion(99)]
        let jobs = scheduler.plan(entries: entries, now: t0, busyDestinations: busy)
        XCTAssertEqual(jobs.count, 7, "busy connections count against the limit")
        XCTAssertFalse(jobs.contains { busy.contains($0.destination) }, "busy destinations are skipped")
        let full = (20...29).map { sampleOnion(UInt8($0)) }
        XCTAssertEqual(scheduler.plan(entries: entries, now: t0, busyDestinations: full), [])
        let one = QueueScheduler(settings: QueueSettings(maximumConcurrentDestinations: 1))
        XCTAssertEqual(one.plan(entries: entries, now: t0, busyDestinations: []).map { $0.destination },
                       [sampleOnion(2)])
    }

    func testEarliestDueFirstAndNotBeforeDue() {
        var late = entry([2])
        var early = entry([3])
        var future = entry([4])
        late.states[0].nextAttempt = t0 - 10
        early.states[0].nextAttempt = t0 - 500
        future.states[0].nextAttempt = t0 + 1
        let settings = QueueSettings(maximumConcurrentDestinations: 1)
        let jobs = QueueScheduler(settings: settings).plan(entries: [late, future, early], now: t0, busyDestinations: [])
        XCTAssertEqual(jobs.map { $0.destination }, [sampleOnion(3)])
        XCTAssertEqual(QueueScheduler().plan(entries: [future], now: t0, busyDestinations: []), [])
        XCTAssertEqual(QueueScheduler().plan(entries: [future], now: t0 + 1, busyDestinations: []).count, 1)
        var done = entry([2, 3])
        done.states[0].status = .delivered
        done.states[1].status = .failed
        XCTAssertEqual(QueueScheduler().plan(entries: [done], now: t0, busyDestinations: []), [])
    }

    func testPerConnectionMessageCap() {
        var entries = (0..<60).map { _ in entry([2]) }
        let scheduler = QueueScheduler()
        let first = scheduler.plan(entries: entries, now: t0, busyDestinations: [])
        XCTAssertEqual(first.count, 1)
        XCTAssertEqual(first[0].messages.map { $0.id }, entries.prefix(50).map { $0.id })
        // While the connection runs, the destination is busy.
        XCTAssertEqual(scheduler.plan(entries: entries, now: t0, busyDestinations: [sampleOnion(2)]), [])
        for index in 0..<50 { scheduler.record(delivered, recipient: 0, in: &entries[index], now: t0, random: 0.5) }
        let second = scheduler.plan(entries: entries, now: t0, busyDestinations: [])
        XCTAssertEqual(second.first?.messages.map { $0.id }, entries.suffix(10).map { $0.id })
        let small = QueueScheduler(settings: QueueSettings(maximumMessagesPerConnection: 3))
        XCTAssertEqual(small.plan(entries: entries, now: t0, busyDestinations: []).first?.messages.count, 3)
    }

    func testBackoffSequenceWithJitterBounds() {
        let scheduler = QueueScheduler()
        let expected: [Int64] = [300, 600, 1200, 2400, 4000, 4000, 4000]
        XCTAssertEqual((1...7).map { scheduler.backoff(afterAttempts: $0, random: 0.5) }, expected)
        for (attempts, base) in zip(1..., expected) {
            for random in [0, 0.1, 0.25, 0.5, 0.75, 0.999_999, 1, -3, .nan] {
                let wait = scheduler.backoff(afterAttempts: attempts, random: random)
                XCTAssertGreaterThanOrEqual(wait, base * 8 / 10, "\(attempts) \(random)")
                XCTAssertLessThanOrEqual(wait, base * 12 / 10, "\(attempts) \(random)")
            }
        }
        XCTAssertEqual(scheduler.backoff(afterAttempts: 1, random: 0), 240)
        XCTAssertEqual(scheduler.backoff(afterAttempts: 5, random: 0), 3200)
        XCTAssertEqual(scheduler.backoff(afterAttempts: 1_000_000, random: 0.5), 4000, "no overflow")

        // Through record, with the clock moving to each next attempt.
        var e = entry([2])
        var now = t0
        var waits: [Int64] = []
        for _ in 0..<6 {
            scheduler.record(tempfail, recipient: 0, in: &e, now: now, random: 0.5)
            XCTAssertEqual(e.states[0].status, .deferred)
            waits.append(e.states[0].nextAttempt - now)
            now = e.states[0].nextAttempt
        }
        XCTAssertEqual(waits, [300, 600, 1200, 2400, 4000, 4000])
        XCTAssertEqual(e.states[0].attempts, 6)
        XCTAssertEqual(e.states[0].reason, "the server replied 451 4.3.0 try later")
        XCTAssertEqual(e.states[0].reply, "451 4.3.0 try later")
        XCTAssertEqual(e.states[0].statusCode, EnhancedStatusCode(4, 3, 0))
    }

    func testA450AskingForProofOfWorkIsRetriedAtOnceOnce() {
        let scheduler = QueueScheduler()
        let asks = DeliveryAttemptOutcome.temporaryFailure(Reply(450, EnhancedStatusCode(4, 7, 0),
            "POW effort below 24; POW required: eqh96-5 effort 24, a2id-1m effort 2"))
        XCTAssertEqual(asks.proofOfWorkRequirements, [PowRequirement(algorithm: .equihash96x5, effort: 24),
                                                      PowRequirement(algorithm: .argon2id1MiB, effort: 2)])
        XCTAssertNil(tempfail.proofOfWorkRequirements)
        XCTAssertNil(DeliveryAttemptOutcome.permanentFailure(Reply(550, EnhancedStatusCode(5, 7, 1),
            "POW stamp refused: already used")).proofOfWorkRequirements)
        var e = entry([2])
        scheduler.record(asks, recipient: 0, in: &e, now: t0, random: 0.5)
        XCTAssertEqual(e.states[0].status, .deferred)
        XCTAssertEqual(e.states[0].nextAttempt, t0, "solve again and retry at once")
        // Asked again right after solving to what it said: the normal backoff.
        scheduler.record(asks, recipient: 0, in: &e, now: t0 + 5, random: 0.5)
        XCTAssertEqual(e.states[0].nextAttempt, t0 + 5 + 600)
        // Another failure in between re-arms the immediate retry.
        scheduler.record(tempfail, recipient: 0, in: &e, now: t0 + 700, random: 0.5)
        scheduler.record(asks, recipient: 0, in: &e, now: t0 + 2000, random: 0.5)
        XCTAssertEqual(e.states[0].nextAttempt, t0 + 2000)
    }

    func testTemporaryAndPermanentOutcomes() {
        let cases: [(DeliveryAttemptOutcome, RecipientStatus, String)] = [
            (delivered, .delivered, "2.0.0"),
            (tempfail, .deferred, "4.3.0"),
            (.temporaryFailure(Reply(code: 421, enhanced: nil, lines: ["bye"])), .deferred, "4.0.0"),
            (permfail, .failed, "5.1.1"),
            (.permanentFailure(Reply(code: 554, enhanced: EnhancedStatusCode(4, 0, 0), lines: ["odd"])), .failed, "5.0.0"),
            (.connectionFailure(.socks(.onionDescriptorNotFound)), .deferred, "4.4.4"),
            (.connectionFailure(.socks(.onionIntroductionFailed)), .deferred, "4.4.1"),
            (.connectionFailure(.socks(.onionRendezvousFailed)), .deferred, "4.4.1"),
            (.connectionFailure(.socks(.generalFailure)), .deferred, "4.4.0"),
            (.connectionFailure(.timeout), .deferred, "4.4.1"),
            (.connectionFailure(.tls), .deferred, "4.7.5"),
            (.connectionFailure(.proxyUnreachable("127.0.0.1:9050")), .deferred, "4.3.0"),
            (.connectionFailure(.pinMismatch(pinned: "aaaa", presented: "bbbb")), .deferred, "4.7.5"),
            (.connectionFailure(.socks(.onionAddressInvalid)), .failed, "5.4.4"),
            (.connectionFailure(.socks(.onionClientAuthMissing)), .failed, "5.7.0"),
            (.connectionFailure(.certificateMismatch(expectedLabel: "abcd", presented: "efgh")), .failed, "5.7.5"),
        ]
        for (outcome, status, code) in cases {
            var e = entry([2])
            QueueScheduler().record(outcome, recipient: 0, in: &e, now: t0 + 10, random: 0.5)
            XCTAssertEqual(e.states[0].status, status, "\(outcome)")
            XCTAssertEqual(e.states[0].statusCode?.text, code, "\(outcome)")
            XCTAssertEqual(e.states[0].attempts, 1)
            XCTAssertEqual(e.states[0].lastAttempt, t0 + 10)
            XCTAssertFalse(e.states[0].reason.isEmpty)
            if case .connectionFailure = outcome { XCTAssertEqual(e.states[0].reply, "", "no Diagnostic-Code") }
        }
        // A final recipient is not changed by a late outcome.
        var e = entry([2])
        QueueScheduler().record(delivered, recipient: 0, in: &e, now: t0, random: 0.5)
        QueueScheduler().record(permfail, recipient: 0, in: &e, now: t0, random: 0.5)
        XCTAssertEqual(e.states[0].status, .delivered)
        QueueScheduler().record(permfail, recipient: 7, in: &e, now: t0, random: 0.5)  // no such recipient
    }

    func testExpiryFailsWithTheLastReason() {
        let scheduler = QueueScheduler()
        let lifetime = QueueSettings().maximalLifetime
        XCTAssertEqual(lifetime, 5 * 86_400)
        var e = entry([2])
        let tor = DeliveryAttemptOutcome.connectionFailure(.socks(.onionDescriptorNotFound))
        // The last retry before expiry is not scheduled past it.
        scheduler.record(tor, recipient: 0, in: &e, now: t0 + lifetime - 100, random: 0.5)
        XCTAssertEqual(e.states[0].status, .deferred)
        XCTAssertEqual(e.states[0].nextAttempt, t0 + lifetime)
        // The attempt at expiry fails for good.
        scheduler.record(tor, recipient: 0, in: &e, now: t0 + lifetime, random: 0.5)
        XCTAssertEqual(e.states[0].status, .failed)
        XCTAssertEqual(e.states[0].statusCode, EnhancedStatusCode(5, 4, 7))
        XCTAssertEqual(e.states[0].reason, "expired after 5 days: tor could not reach the destination: "
                       + SOCKSError.onionDescriptorNotFound.summary)
        // A permanent failure at expiry keeps its own reason; a delivery
        // after expiry is still a delivery.
        var f = entry([2, 3])
        scheduler.record(permfail, recipient: 0, in: &f, now: t0 + lifetime + 5, random: 0.5)
        scheduler.record(delivered, recipient: 1, in: &f, now: t0 + lifetime + 5, random: 0.5)
        XCTAssertEqual(f.states.map { $0.status }, [.failed, .delivered])
        XCTAssertEqual(f.states[0].statusCode, EnhancedStatusCode(5, 1, 1))
        // Other lifetimes are named in their unit.
        var g = entry([2])
        QueueScheduler(settings: QueueSettings(maximalLifetime: 7200)).record(tempfail, recipient: 0, in: &g,
                                                                              now: t0 + 7201, random: 0.5)
        XCTAssertEqual(g.states[0].reason, "expired after 2 hours: the server replied 451 4.3.0 try later")
    }

    func testFailureNotificationIsDecidedExactlyOnce() {
        let scheduler = QueueScheduler()
        var e = entry([2, 3, 4])
        XCTAssertEqual(scheduler.notifications(for: e, now: t0), [])
        scheduler.record(permfail, recipient: 1, in: &e, now: t0, random: 0.5)
        scheduler.record(tempfail, recipient: 0, in: &e, now: t0, random: 0.5)
        let requests = scheduler.notifications(for: e, now: t0)
        XCTAssertEqual(requests.count, 1)
        XCTAssertEqual(requests[0].kind, .failure)
        XCTAssertEqual(requests[0].recipientIndices, [1])
        XCTAssertEqual(requests[0].sender, sampleMailbox("alice", 1))
        XCTAssertEqual(requests[0].identifier, e.id.text + ".failed.1")
        XCTAssertEqual(requests[0].retryUntil, t0 + 5 * 86_400)
        XCTAssertEqual(scheduler.notifications(for: e, now: t0 + 1), requests, "decided again until produced")
        scheduler.markProduced(requests[0], in: &e)
        XCTAssertEqual(scheduler.notifications(for: e, now: t0 + 2), [])
        XCTAssertFalse(e.isFinished)
        // A later failure gets its own DSN, without the one already reported.
        scheduler.record(permfail, recipient: 2, in: &e, now: t0 + 300, random: 0.5)
        scheduler.record(delivered, recipient: 0, in: &e, now: t0 + 300, random: 0.5)
        let later = scheduler.notifications(for: e, now: t0 + 300)
        XCTAssertEqual(later.map { $0.recipientIndices }, [[2]])
        XCTAssertFalse(e.isFinished, "a DSN is owed before the message may go")
        scheduler.markProduced(later[0], in: &e)
        XCTAssertTrue(e.isFinished)
        XCTAssertEqual(scheduler.notifications(for: e, now: t0 + 10 * 86_400), [])
    }

    func testNullSenderNeverGetsANotification() {
        let scheduler = QueueScheduler()
        var bounce = entry([2, 3], sender: nil)
        scheduler.record(permfail, recipient: 0, in: &bounce, now: t0, random: 0.5)
        XCTAssertEqual(scheduler.notifications(for: bounce, now: t0 + 86_400), [], "no bounce, no delay warning")
        XCTAssertFalse(bounce.isFinished)
        scheduler.record(delivered, recipient: 1, in: &bounce, now: t0, random: 0.5)
        XCTAssertTrue(bounce.isFinished, "a failed bounce is finished without a DSN")
        XCTAssertEqual(scheduler.nextWakeup(entries: [bounce], now: t0), t0)
    }

    func testDelayWarningOncePerRecipient() {
        let scheduler = QueueScheduler()
        var e = entry([2, 3, 4])
        scheduler.record(tempfail, recipient: 0, in: &e, now: t0, random: 0.5)
        scheduler.record(delivered, recipient: 2, in: &e, now: t0, random: 0.5)
        let warningTime = t0 + 4 * 3600
        XCTAssertEqual(scheduler.notifications(for: e, now: warningTime - 1), [])
        let warnings = scheduler.notifications(for: e, now: warningTime)
        XCTAssertEqual(warnings.map { $0.kind }, [.delay])
        XCTAssertEqual(warnings[0].recipientIndices, [0, 1], "deferred and never-tried, not the delivered one")
        XCTAssertEqual(warnings[0].identifier, e.id.text + ".delayed.0")
        scheduler.markProduced(warnings[0], in: &e)
        XCTAssertEqual(scheduler.notifications(for: e, now: warningTime + 86_400), [], "once")
        XCTAssertTrue(e.states[0].delayWarned)
        // Off when the time is 0.
        let off = QueueScheduler(settings: QueueSettings(delayWarningTime: 0))
        XCTAssertEqual(off.notifications(for: entry([2]), now: t0 + 4 * 86_400), [])
    }

    func testNextWakeup() {
        let scheduler = QueueScheduler()
        XCTAssertNil(scheduler.nextWakeup(entries: [], now: t0))
        var e = entry([2, 3])
        XCTAssertEqual(scheduler.nextWakeup(entries: [e], now: t0), t0, "due now")
        XCTAssertEqual(scheduler.nextWakeup(entries: [e], now: t0, busyDestinations: [sampleOnion(2), sampleOnion(3)]),
                       t0 + 4 * 3600, "due work waiting for busy destinations wakes at a job's end, not now")
        scheduler.record(tempfail, recipient: 0, in: &e, now: t0, random: 0.5)
        scheduler.record(tempfail, recipient: 1, in: &e, now: t0, random: 0.0)
        XCTAssertEqual(scheduler.nextWakeup(entries: [e], now: t0), t0 + 240, "the earliest retry")
        let quiet = QueueScheduler(settings: QueueSettings(delayWarningTime: 0))
        scheduler.record(delivered, recipient: 1, in: &e, now: t0, random: 0.5)
        XCTAssertEqual(quiet.nextWakeup(entries: [e], now: t0 + 100), t0 + 300)
        // The delay warning time is a wake-up too.
        var slow = entry([2])
        slow.states[0].nextAttempt = t0 + 5 * 3600
        XCTAssertEqual(scheduler.nextWakeup(entries: [slow], now: t0), t0 + 4 * 3600)
        // A DSN owed or a finished message: now.
        var failed = entry([2])
        scheduler.record(permfail, recipient: 0, in: &failed, now: t0, random: 0.5)
        XCTAssertEqual(scheduler.nextWakeup(entries: [slow, failed], now: t0 + 1), t0 + 1)
    }

    func testResultsFromAConnection() {
        let a = entry([2, 2])
        let b = entry([2])
        let job = QueueScheduler().plan(entries: [a, b], now: t0, busyDestinations: [])[0]
        XCTAssertEqual(job.messages.count, 2)
        let message = job.messages[0].clientMessage(content: [1, 2, 3])
        XCTAssertEqual(message.identifier, a.id.text)
        XCTAssertEqual(message.recipients, a.recipients)
        XCTAssertEqual(message.reversePath, a.reversePath)
        XCTAssertEqual(message.content, [1, 2, 3])

        let ok = Reply(250, EnhancedStatusCode(2, 0, 0), "Ok")
        let no = Reply(550, EnhancedStatusCode(5, 1, 1), "No")
        let report = DeliveryReport(identifier: a.id.text, recipients: [
            RecipientResult(recipient: a.recipients[0], outcome: .delivered(ok)),
            RecipientResult(recipient: a.recipients[1], outcome: .permanentFailure(no)),
        ], messageReply: ok)
        let results = job.results(from: ConnectionOutcome(reports: [report], failure: nil, serverFingerprint: nil,
                                                          tlsVersion: "", tlsCipher: ""))
        XCTAssertEqual(results, [
            DeliveryJob.Result(id: a.id, outcomes: [0: .delivered(ok), 1: .permanentFailure(no)]),
            DeliveryJob.Result(id: b.id, outcomes: [0: .temporaryFailure(DeliveryJob.notAttempted)]),
        ])
        let failed = job.results(from: ConnectionOutcome(reports: [], failure: .socks(.onionIntroductionFailed),
                                                         serverFingerprint: nil, tlsVersion: "", tlsCipher: ""))
        XCTAssertEqual(failed[0].outcomes, [0: .connectionFailure(.socks(.onionIntroductionFailed)),
                                            1: .connectionFailure(.socks(.onionIntroductionFailed))])
        var entryA = a
        QueueScheduler().record(results[0], in: &entryA, now: t0, random: 0.5)
        XCTAssertEqual(entryA.states.map { $0.status }, [.delivered, .failed])
    }

    /// One message through store and scheduler as the daemon runs it,
    /// including a crash after the DSN was stored but before it was recorded.
    func testWholeRoundThroughTheStore() throws {
        let root = NSTemporaryDirectory() + "smtorp-queue-round-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        var store = try QueueStore(directory: root + "/queue")
        let scheduler = QueueScheduler()
        let id = try store.enqueue(reversePath: sampleMailbox("alice", 1),
                                   recipients: [sampleMailbox("bob", 2), sampleMailbox("carol", 3)],
                                   message: Array("Subject: x\r\n\r\nhello\r\n".utf8), now: t0)
        var storedDSNs: Set<String> = []  // stands for a Maildir keyed by identifier

        var entries = store.scan(now: t0).entries
        let jobs = scheduler.plan(entries: entries, now: t0, busyDestinations: [])
        XCTAssertEqual(jobs.count, 2)
        for job in jobs {
            let outcome: DeliveryAttemptOutcome = job.destination == sampleOnion(2) ? delivered : permfail
            var entry = try store.load(id)
            for message in job.messages {
                scheduler.record(DeliveryJob.Result(id: message.id, outcomes: [message.recipientIndices[0]: outcome]),
                                 in: &entry, now: t0 + 1, random: 0.5)
            }
            try store.update(id, states: entry.states)
        }
        entries = store.scan(now: t0 + 1).entries
        XCTAssertEqual(entries[0].states.map { $0.status }, [.delivered, .failed])
        var requests = scheduler.notifications(for: entries[0], now: t0 + 1)
        XCTAssertEqual(requests.count, 1)
        storedDSNs.insert(requests[0].identifier)
        // Crash here: the DSN is stored, the state does not say so. After the
        // restart the same DSN is decided under the same identifier, which
        // the store finds already there.
        store = try QueueStore(directory: root + "/queue")
        entries = store.scan(now: t0 + 2).entries
        requests = scheduler.notifications(for: entries[0], now: t0 + 2)
        XCTAssertFalse(storedDSNs.insert(requests[0].identifier).inserted, "stored once")
        var entry = entries[0]
        scheduler.markProduced(requests[0], in: &entry)
        try store.update(id, states: entry.states)
        entries = store.scan(now: t0 + 3).entries
        XCTAssertTrue(entries[0].isFinished)
        XCTAssertEqual(scheduler.notifications(for: entries[0], now: t0 + 3), [])
        try store.remove(id)
        XCTAssertEqual(store.scan(now: t0 + 4).entries, [])
        XCTAssertNil(scheduler.nextWakeup(entries: [], now: t0 + 4))
    }
}
