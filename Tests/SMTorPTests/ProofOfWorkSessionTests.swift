// ProofOfWorkSessionTests.swift: the POW extension at the SMTP level
// (docs/spec.md §5.5), with the real adapter part (ServerProofOfWork: the
// durable spent-nonce store in a directory and the C kernel) on an injected
// clock: no stamp → 450 with the requirements, a solved stamp → 250, a
// replay → 550 also after a restart, a deprecated algorithm needing more
// effort as the clock advances, forged stamps, line limits, pipelining.
import XCTest
@testable import SMTorP
import SMTorPCore

/// Solves stamps with the C core's kernels directly, written from the
/// specification (docs/spec.md §5.2-5.4) independently of the node's
/// minting code, so that each side checks the other.
enum TestMinter {
    /// An `eqh96-5` stamp for `recipient` at `effort`, dated `now`.
    static func equihash(_ recipient: SMTorPAddress, effort: UInt32, now: Int64,
                         nonce: [UInt8] = randomNonce()) -> Stamp {
        var stamp = Stamp(algorithm: .equihash96x5, effort: effort, recipient: recipient,
                          date: StampDate(unixSeconds: now), nonce: nonce, solution: [])
        let challenge = stamp.challenge(hash: CoreProofKernel().digest)
        var solver: OpaquePointer? = nil
        precondition(smtorp_equihash_solver_new(96, 5, 1, &solver) == SMTORP_POW_OK)
        defer { smtorp_equihash_solver_free(solver) }
        let length = smtorp_equihash_solution_length(96, 5)
        for attempt in UInt32(0)... {
            let prefix = [UInt8(attempt >> 24), UInt8(attempt >> 16 & 255), UInt8(attempt >> 8 & 255),
                          UInt8(attempt & 255)]
            let seed = challenge + prefix
            var out = [UInt8](repeating: 0, count: length * 8)
            var found = 0
            precondition(smtorp_equihash_solve(solver, seed, seed.count, &out, 8, length, &found, nil, nil, nil)
                         == SMTORP_POW_OK)
            for i in 0..<found {
                let candidate = prefix + out[(i * length)..<((i + 1) * length)]
                if smtorp_pow_effort_check(candidate, candidate.count, challenge, challenge.count, effort)
                    == SMTORP_WORK_OK {
                    stamp.solution = candidate
                    return stamp
                }
            }
        }
        fatalError("unreachable")
    }

    /// A legacy `hc1` token for `recipient` with `bits`, dated `date`
    /// (YYMMDD).
    static func hashcash(_ recipient: SMTorPAddress, bits: UInt32, date: String) -> String {
        var out = [CChar](repeating: 0, count: 600)
        precondition(smtorp_hashcash_mint(bits, recipient.text, date, nil, &out, out.count, nil) == SMTORP_WORK_OK)
        return String(cString: out)
    }

    static func randomNonce() -> [UInt8] {
        (0..<Stamp.nonceLength).map { _ in UInt8.random(in: 0...255) }
    }
}

/// A mutable clock for the tests.
final class TestClock {
    var now: Int64
    init(_ now: Int64) { self.now = now }
}

final class ProofOfWorkSessionTests: XCTestCase {
    let onion = ProofOfWorkStampTests.onion
    lazy var alice = try! Address.parseSMTorP("alice@" + onion)!
    lazy var bob = try! Address.parseSMTorP("bob@" + onion)!
    /// 2026-11-29 12:34 UTC.
    let start = ProofOfWorkStampTests.date.unixSeconds
    var root = ""

    override func setUpWithError() throws {
        root = NSTemporaryDirectory() + "smtorp-pow-session-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: root)
    }

    /// The node's checker on `clock`, its store in `root/spent` (a second
    /// one on the same directory is the node after a restart).
    func checker(_ clock: TestClock, registry: AlgorithmRegistry = .standard) throws -> ServerProofOfWork {
        try ServerProofOfWork(directory: root + "/spent", registry: registry, hostname: onion,
                              logger: Logger(threshold: .error), clock: { clock.now })
    }

    /// A connected session whose stamps `pow` checks.
    func wire(_ pow: ServerProofOfWork) -> Wire {
        var wire = Wire(proofOfWork: pow.requirements(), hostname: onion)
        var counter = pow.newSessionCounter()
        wire.stampChecker = { stamp, recipient in
            pow.check(stamp: stamp, recipient: recipient, argon2: &counter, connection: 1)
        }
        wire.input(.ready)
        wire.send("EHLO client.example.onion")
        wire.send("MAIL FROM:<carol@client.example.onion>")
        return wire
    }

    func testEHLOAnnouncesRequirementsAndNoStampGets450WithThem() throws {
        let clock = TestClock(start)
        let pow = try checker(clock)
        var w = wire(pow)
        XCTAssertEqual(w.replies[1].lines.last, "POW eqh96-5=8 a2id-1m=2 hc1=8388608",
                       "hc1 deprecated since 2026-01-01: three doublings by 2026-11-29")
        w.clear()
        w.send("RCPT TO:<alice@" + onion + ">")
        XCTAssertEqual(w.replies, [Reply(450, EnhancedStatusCode(4, 7, 0),
                                         "POW required: eqh96-5 effort 8, a2id-1m effort 2, hc1 effort 8388608")])
        // The client can parse the requirements out of the reply.
        XCTAssertEqual(PowExtension.requirements(inReplyText: w.replies[0].lines[0]), pow.requirements())
        // A too weak stamp: 450 with what is needed.
        let weak = TestMinter.equihash(alice, effort: 4, now: start)
        w.clear()
        w.send("RCPT TO:<alice@" + onion + "> POW=" + weak.render())
        XCTAssertEqual(w.codes, ["450 4.7.0"])
        XCTAssertTrue(w.replies[0].lines[0].hasPrefix("POW effort below 8; POW required: eqh96-5 effort 8"))
        w.send("DATA")
        XCTAssertEqual(w.codes.last, "503 5.5.1", "no valid recipient")
        XCTAssertTrue(w.stores.isEmpty)
        // Without POW offered, RCPT takes no parameter at all.
        var plain = Wire.connected()
        plain.send(["EHLO c.example.onion", "MAIL FROM:<c@c.example.onion>",
                    "RCPT TO:<alice@example.onion> POW=" + weak.render()])
        XCTAssertEqual(plain.codes.last, "555 5.5.4")
        XCTAssertFalse(plain.replies[1].lines.contains { $0.hasPrefix("POW") })
    }

    func testSolvedStampIsAcceptedAndItsReplayRefusedAlsoAfterRestart() throws {
        let clock = TestClock(start)
        let stamp = TestMinter.equihash(alice, effort: 8, now: start).render()
        do {
            var w = wire(try checker(clock))
            w.clear()
            w.send("RCPT TO:<alice@" + onion + "> POW=" + stamp)
            XCTAssertEqual(w.codes, ["250 2.1.5"])
            w.send("RCPT TO:<alice@" + onion + "> POW=" + stamp)
            XCTAssertEqual(w.codes, ["250 2.1.5", "250 2.1.5"], "a repeated recipient is not checked again")
            w.send(["BDAT 5 LAST", "Hi\r"])
            XCTAssertEqual(w.codes.last, "250 2.0.0")
            XCTAssertEqual(w.stores.first?.envelope.recipients.map(\.text), ["alice@" + onion])
            // The same stamp in a new transaction of the same session.
            w.clear()
            w.send(["MAIL FROM:<carol@client.example.onion>", "RCPT TO:<alice@" + onion + "> POW=" + stamp])
            XCTAssertEqual(w.replies.last, Reply(550, EnhancedStatusCode(5, 7, 1), "POW stamp refused: already used"))
        }
        // The node restarts: a new checker on the same store directory.
        clock.now += 3600
        var w = wire(try checker(clock))
        w.clear()
        w.send("RCPT TO:<alice@" + onion + "> POW=" + stamp)
        XCTAssertEqual(w.replies, [Reply(550, EnhancedStatusCode(5, 7, 1), "POW stamp refused: already used")])
        // A fresh stamp is accepted.
        w.send("RCPT TO:<alice@" + onion + "> POW=" + TestMinter.equihash(alice, effort: 8, now: clock.now).render())
        XCTAssertEqual(w.codes.last, "250 2.1.5")
    }

    func testForgedStampsAre550AndNeverSpendTheNonce() throws {
        let clock = TestClock(start)
        let pow = try checker(clock)
        let good = TestMinter.equihash(alice, effort: 8, now: start)
        var flipped = good
        flipped.solution[20] ^= 0x10
        var wrongOrder = good
        // Swap the first two 9-byte halves' worth of packed indices: the
        // first 2 x 17 bits of (96,5) indices live in bytes 8-12 (after the
        // 4-byte attempt and the 4-byte Equihash nonce); swapping whole
        // indices needs bit work, so swap the two halves of the tree instead.
        let half = 36
        let proof = Array(good.solution[8...])
        wrongOrder.solution = Array(good.solution[0..<8]) + Array(proof[half...]) + Array(proof[..<half])
        var w = wire(pow)
        let cases: [(String, String)] = [
            (TestMinter.equihash(bob, effort: 8, now: start).render(), "POW stamp refused: stamp is for another recipient"),
            (flipped.render(), "POW stamp refused: invalid solution"),
            (wrongOrder.render(), "POW stamp refused: invalid solution"),
            ("1:eqh96-5:8:" + String(repeating: "a", count: 10), "POW stamp refused: stamp syntax"),
        ]
        for (text, prefix) in cases {
            w.clear()
            w.send("RCPT TO:<alice@" + onion + "> POW=" + text)
            XCTAssertEqual(w.codes, ["550 5.7.1"], prefix)
            XCTAssertTrue(w.replies[0].lines[0].hasPrefix(prefix), w.replies[0].lines[0])
        }
        // A stale date is temporary: the sender's clock, or a stamp made
        // long ago; a fresh one fixes it.
        w.clear()
        w.send("RCPT TO:<alice@" + onion + "> POW=" + TestMinter.equihash(alice, effort: 8, now: start - 3 * 86_400).render())
        XCTAssertEqual(w.codes, ["450 4.7.0"])
        // None of the refusals spent the good stamp's nonce.
        w.send("RCPT TO:<alice@" + onion + "> POW=" + good.render())
        XCTAssertEqual(w.codes.last, "250 2.1.5")
    }

    func testDeprecatedAlgorithmNeedsMoreEffortAsTheClockAdvances() throws {
        // hc1 deprecated since `start` from 2^10 (cheap to mint in a test),
        // eqh96-5 preferred at 8: after one period hc1 needs 2^11, after
        // two 2^12, while eqh96-5 stays at 8.
        let period = AlgorithmRegistry.defaultDoublingPeriod
        let registry = AlgorithmRegistry(entries: [
            .init(algorithm: .equihash96x5, status: .preferred, baseEffort: 8),
            .init(algorithm: .hashcash1, status: .deprecated(since: start), baseEffort: 1 << 10),
        ])
        let clock = TestClock(start + 60)
        let pow = try checker(clock, registry: registry)
        func yymmdd(_ t: Int64) -> String { String(StampDate(unixSeconds: t).text.dropFirst(2).prefix(6)) }
        var w = wire(pow)
        XCTAssertEqual(w.replies[1].lines.last, "POW eqh96-5=8 hc1=1024")
        w.clear()
        w.send("RCPT TO:<alice@" + onion + "> POW=" + TestMinter.hashcash(alice, bits: 10, date: yymmdd(clock.now)))
        XCTAssertEqual(w.codes, ["250 2.1.5"])

        for (periods, bits) in [(1, 11), (2, 12)] as [(Int64, UInt32)] {
            clock.now = start + periods * period + 60
            var w = wire(pow)
            XCTAssertEqual(w.replies[1].lines.last, "POW eqh96-5=8 hc1=" + String(1 << bits))
            w.clear()
            w.send("RCPT TO:<alice@" + onion + "> POW="
                   + TestMinter.hashcash(alice, bits: bits - 1, date: yymmdd(clock.now)))
            XCTAssertEqual(w.replies, [Reply(450, EnhancedStatusCode(4, 7, 0),
                                             "POW effort below " + String(1 << bits)
                                             + "; POW required: eqh96-5 effort 8, hc1 effort " + String(1 << bits))])
            w.send("RCPT TO:<alice@" + onion + "> POW="
                   + TestMinter.hashcash(alice, bits: bits, date: yymmdd(clock.now)))
            XCTAssertEqual(w.codes.last, "250 2.1.5")
            // The preferred algorithm did not get dearer.
            w.send("RCPT TO:<bob@" + onion + "> POW="
                   + TestMinter.equihash(bob, effort: 8, now: clock.now).render())
            XCTAssertEqual(w.codes.last, "250 2.1.5")
        }
    }

    func testStampLinesGetTheirOwnLimitAndPipeliningKeepsOrder() throws {
        let clock = TestClock(start)
        let pow = try checker(clock)
        let a = TestMinter.equihash(alice, effort: 8, now: start).render()
        let b = TestMinter.equihash(bob, effort: 8, now: start).render()
        var w = Wire(proofOfWork: pow.requirements(), hostname: onion)
        var counter = pow.newSessionCounter()
        w.stampChecker = { stamp, recipient in
            pow.check(stamp: stamp, recipient: recipient, argon2: &counter, connection: 1)
        }
        w.input(.ready)
        w.clear()
        // Everything in one write: each RCPT waits for its check, the rest
        // is held and answered in order.
        w.send(["EHLO client.example.onion", "MAIL FROM:<carol@client.example.onion>",
                "RCPT TO:<alice@" + onion + "> POW=" + a, "RCPT TO:<bob@" + onion + "> POW=" + b,
                "RCPT TO:<bob@" + onion + ">", "BDAT 4 LAST", "Hi\r\n" + "QUIT"])
        XCTAssertEqual(w.codes, ["250", "250 2.1.0", "250 2.1.5", "250 2.1.5", "250 2.1.5", "250 2.0.0", "221 2.0.0"])
        // A RCPT line of 1536 octets passes the length check (and fails on
        // its stamp); one of 1537 is too long; other commands keep 512.
        var v = wire(pow)
        v.clear()
        let prefix = "RCPT TO:<alice@" + onion + "> POW="
        v.send(prefix + String(repeating: "a", count: 1534 - prefix.utf8.count))
        XCTAssertEqual(v.codes, ["550 5.7.1"])
        v.send(prefix + String(repeating: "a", count: 1535 - prefix.utf8.count))
        XCTAssertEqual(v.codes.last, "500 5.5.2")
        v.send("NOOP " + String(repeating: "a", count: 600))
        XCTAssertEqual(v.codes.last, "500 5.5.2")
    }

    func testClientSendsStampsOnlyToAServerThatOffersPOW() throws {
        let reply = Reply.extendedHello(hostname: "h.onion", limits: Limits(),
                                        proofOfWork: [PowRequirement(algorithm: .equihash96x5, effort: 8)])
        XCTAssertEqual(ClientExtensions(extendedHelloReply: reply).proofOfWork,
                       [PowRequirement(algorithm: .equihash96x5, effort: 8)])
        XCTAssertNil(ClientExtensions(extendedHelloReply: .extendedHello(hostname: "h.onion", limits: Limits()))
            .proofOfWork)
        var odd = reply
        odd.lines[odd.lines.count - 1] = "POW eqh96-5"
        XCTAssertEqual(ClientExtensions(extendedHelloReply: odd).proofOfWork, [], "offered, offers unreadable")

        let stamp = TestMinter.equihash(alice, effort: 8, now: start).render()
        let message = ClientMessage(identifier: "m", reversePath: Mailbox(localPart: "c", domain: "c.example.onion"),
                                    recipients: [Address.smtorp(alice).mailbox, Address.smtorp(bob).mailbox], content: Array("Hi\r\n".utf8),
                                    stamps: [stamp, "bad=stamp"])
        let prepared = message.prepared()
        XCTAssertEqual(prepared.stampParameters[0], Array((" POW=" + stamp).utf8))
        XCTAssertNil(prepared.stampParameters[1], "not an esmtp-value: never sent")
        // Against a server session offering POW, through the real checker.
        let clock = TestClock(start)
        let pow = try checker(clock)
        var client = ClientSession(configuration: ClientConfiguration(heloName: "c.example.onion"),
                                   messages: [message])
        var server = Wire(proofOfWork: pow.requirements(), hostname: onion)
        var counter = pow.newSessionCounter()
        server.stampChecker = { stamp, recipient in
            pow.check(stamp: stamp, recipient: recipient, argon2: &counter, connection: 1)
        }
        var reports: [DeliveryReport] = []
        func pump(_ effects: [ClientEffect]) {
            for effect in effects {
                switch effect {
                case .send(let bytes):
                    let before = server.replies.count
                    server.sendBytes(bytes)
                    for reply in server.replies[before...] {
                        for line in reply.wireBytes().split(separator: 0x0A) {
                            pump(client.receive(.line(Array(line))))
                        }
                    }
                case .finished(let report): reports.append(report)
                case .close, .setReadTimeout, .extensionsAnnounced: break
                }
            }
        }
        _ = client.receive(.finish)
        server.input(.ready)
        pump(client.receive(.ready))
        for line in server.replies[0].wireBytes().split(separator: 0x0A) { pump(client.receive(.line(Array(line)))) }
        XCTAssertEqual(reports.count, 1)
        let outcomes = reports.first?.recipients.map { $0.outcome.reply.code }
        XCTAssertEqual(outcomes, [250, 450], "alice's stamp accepted, bob had none")
        XCTAssertEqual(server.stores.first?.envelope.recipients, [Address.smtorp(alice).mailbox])
    }

    func testSubmissionCarriesStampsMintedByTheSendersDevice() throws {
        // The sending relay takes POW= on RCPT (no work of its own, no
        // check of the work: the destination does that) and passes the
        // stamp on with the message; a stamp for another recipient or one
        // that does not parse is refused.
        let stamp = TestMinter.equihash(alice, effort: 8, now: start).render()
        var wire = SubmissionWire.connected(tlsActive: true, cleartextAuthAllowed: false)
        wire.send("EHLO mua.example", "AUTH PLAIN " + SubmissionNode.plain("", "alice", "secret"))
        XCTAssertFalse(wire.replies[1].lines.contains { $0.hasPrefix("POW") },
                       "the submission listener does not ask for proof of work")
        wire.clear()
        wire.send("MAIL FROM:<alice@\(SubmissionNode.onion)>",
                  "RCPT TO:<bob@\(onion)>",
                  "RCPT TO:<alice@\(onion)> POW=\(stamp)",
                  "RCPT TO:<carol@\(onion)> POW=\(stamp)",
                  "RCPT TO:<dave@\(onion)> POW=1:eqh96-5:8:x",
                  "BDAT 4 LAST", "Hi")
        XCTAssertEqual(wire.codes, ["250 2.1.0", "250 2.1.5", "250 2.1.5", "550 5.7.1", "550 5.7.1", "250 2.0.0"])
        XCTAssertEqual(wire.replies[3].lines, ["POW stamp refused: stamp is for another recipient"])
        XCTAssertEqual(wire.replies[4].lines, ["POW stamp refused: stamp syntax"])
        let envelope = try XCTUnwrap(wire.stores.first?.envelope)
        XCTAssertEqual(envelope.recipients.map(\.localPart), ["bob", "alice"])
        XCTAssertEqual([envelope.stamp(at: 0), envelope.stamp(at: 1)], [nil, stamp])

        // Through the queue: the stamp is stored with the message and offered
        // for the first attempt only.
        let queue = try QueueStore(directory: root + "/queue")
        let id = try queue.enqueue(reversePath: nil, recipients: envelope.recipients,
                                   stamps: envelope.recipients.indices.map { envelope.stamp(at: $0) },
                                   message: Array("Hi\r\n".utf8), now: start)
        var entry = try queue.load(id)
        XCTAssertEqual(entry.stamps, [1: stamp])
        let scheduler = QueueScheduler()
        let first = scheduler.plan(entries: [entry], now: start, busyDestinations: [])
        XCTAssertEqual(first.first?.messages.first?.stamps, [nil, stamp] as [String?])
        XCTAssertEqual(first.first?.messages.first?.clientMessage(content: []).stamps, [nil, stamp] as [String?])
        scheduler.record(.temporaryFailure(Reply(451, EnhancedStatusCode(4, 3, 0), "later")), recipient: 1,
                         in: &entry, now: start, random: 0.5)
        let later = scheduler.plan(entries: [entry], now: start + 100_000, busyDestinations: [])
        XCTAssertEqual(later.first?.messages.first?.stamps, [nil, nil] as [String?], "spent or not, never offered twice")
        // A stamp that cannot stand in a header or a command is not stored.
        let other = try queue.enqueue(reversePath: nil, recipients: envelope.recipients,
                                      stamps: ["a=b", "x y"], message: [], now: start)
        XCTAssertEqual(try queue.load(other).stamps, [:])
    }

    func testMinterKeepsACarriedStampOnlyWhenTheServerAcceptsIt() {
        let stamp = TestMinter.equihash(alice, effort: 8, now: start).render()
        XCTAssertTrue(StampMinter.satisfies(stamp, [PowRequirement(algorithm: .equihash96x5, effort: 8)]))
        XCTAssertFalse(StampMinter.satisfies(stamp, [PowRequirement(algorithm: .equihash96x5, effort: 16)]))
        XCTAssertFalse(StampMinter.satisfies(stamp, [PowRequirement(algorithm: .argon2id1MiB, effort: 1)]))
        XCTAssertFalse(StampMinter.satisfies("junk", [PowRequirement(algorithm: .equihash96x5, effort: 1)]))
        XCTAssertEqual(PowRequirement.raising([PowRequirement(algorithm: .equihash96x5, effort: 8),
                                               PowRequirement(algorithm: .hashcash1, effort: 64)],
                                              to: [PowRequirement(algorithm: .equihash96x5, effort: 24),
                                                   PowRequirement(algorithm: .argon2id1MiB, effort: 2)]),
                       [PowRequirement(algorithm: .equihash96x5, effort: 24),
                        PowRequirement(algorithm: .hashcash1, effort: 64),
                        PowRequirement(algorithm: .argon2id1MiB, effort: 2)])
    }

    func testMinterSolvesOnWorkerThreadsReportsProgressAndCancels() throws {
        // A real loop: stamps are minted on C threads while the loop runs;
        // the results and progress come back on the loop thread.
        let loop = try EventLoop()
        let minter = StampMinter(loop: loop, threads: 2)
        minter.progressIntervalMilliseconds = 100
        var outcomes: [StampMinter.Outcome] = []
        var progress: [UInt64] = []
        let deadline = try LoopTimer(loop: loop) { loop.stop() }
        deadline.start(milliseconds: 60_000)
        func request(_ requirement: PowRequirement) -> StampRequest {
            StampRequest(recipient: alice, requirement: requirement, date: StampDate(unixSeconds: start),
                         nonce: TestMinter.randomNonce())
        }
        let requests = [request(PowRequirement(algorithm: .equihash96x5, effort: 8)),
                        request(PowRequirement(algorithm: .argon2id1MiB, effort: 4)),
                        request(PowRequirement(algorithm: .hashcash1, effort: 1 << 12))]
        for r in requests {
            minter.mint(r) { outcome in
                outcomes.append(outcome)
                if outcomes.count == requests.count { loop.stop() }
            }
        }
        XCTAssertEqual(minter.pending, 3)
        _ = loop.run()
        XCTAssertEqual(outcomes.count, 3, "all three minted before the deadline")
        // Each verifies as a node would.
        var verifier = StampVerifier(store: InMemoryDoubleSpendStore(), kernel: CoreProofKernel())
        var counter = Argon2VerificationCounter()
        verifier.registry = AlgorithmRegistry(entries: [
            .init(algorithm: .equihash96x5, status: .preferred, baseEffort: 8),
            .init(algorithm: .argon2id1MiB, status: .accepted, baseEffort: 4),
            .init(algorithm: .hashcash1, status: .accepted, baseEffort: 1 << 12),
        ])
        for outcome in outcomes {
            guard case .stamp(let text) = outcome else { return XCTFail("\(outcome)") }
            XCTAssertEqual(verifier.verify(stampText: text, recipient: alice, now: start + 60, argon2: &counter),
                           .accepted, text)
        }
        // A solve that cannot end soon: progress comes, then cancel stops it
        // and no result is reported.
        outcomes = []
        minter.onProgress = { _, attempts, _ in
            progress.append(attempts)
            if progress.count == 2 {
                minter.cancelAll()
                loop.stop()
            }
        }
        minter.mint(request(PowRequirement(algorithm: .equihash96x5, effort: UInt32.max))) { outcome in
            outcomes.append(outcome)
        }
        _ = loop.run()
        XCTAssertEqual(progress.count, 2, "progress before the deadline")
        XCTAssertLessThanOrEqual(progress[0], progress[1])
        XCTAssertEqual(minter.pending, 0)
        XCTAssertTrue(outcomes.isEmpty, "a cancelled request reports nothing")
        deadline.stop()
    }
}
