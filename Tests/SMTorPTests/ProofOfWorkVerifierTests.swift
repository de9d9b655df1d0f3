// ProofOfWorkVerifierTests.swift: the algorithm registry on an injected
// clock, the order of the verification pipeline (with a counting fake
// kernel), replies, the Argon2id rate limit, the durable spent-nonce store
// (replays refused after reopening, expired entries purged), and the real
// C kernel on hashcash and Equihash solutions.
import XCTest
@testable import SMTorP
import SMTorPCore

/// A kernel that counts its calls and says what it is told.
struct CountingKernel: ProofKernel {
    var calls = 0
    var verdict = KernelVerdict.valid
    func digest(_ bytes: [UInt8]) -> [UInt8] { Array(bytes.prefix(32)) }
    mutating func verify(algorithm: PowAlgorithm, challenge: [UInt8], effort: UInt32,
                         solution: [UInt8]) -> KernelVerdict {
        calls += 1
        return verdict
    }
}

final class ProofOfWorkVerifierTests: XCTestCase {
    let onion = ProofOfWorkStampTests.onion
    let label = ProofOfWorkStampTests.label
    let day: Int64 = 86_400
    /// 2026-11-29 12:34 UTC, the date of the test stamps.
    let now = ProofOfWorkStampTests.date.unixSeconds
    var root = ""

    override func setUpWithError() throws {
        root = NSTemporaryDirectory() + "smtorp-pow-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: root)
    }

    func verifier(_ verdict: KernelVerdict = .valid) -> StampVerifier<InMemoryDoubleSpendStore, CountingKernel> {
        StampVerifier(store: InMemoryDoubleSpendStore(), kernel: CountingKernel(verdict: verdict))
    }

    // MARK: Registry

    func testRegistryDoublesDeprecatedEffortPerPeriod() {
        let registry = AlgorithmRegistry.standard
        let since = AlgorithmRegistry.hashcashDeprecation
        let period = AlgorithmRegistry.defaultDoublingPeriod
        for (t, expected) in [(since - 1, 1 << 20), (since, 1 << 20), (since + period - 1, 1 << 20),
                              (since + period, 1 << 21), (since + 3 * period + 5, 1 << 23)] as [(Int64, UInt32)] {
            XCTAssertEqual(registry.requiredEffort(for: .hashcash1, at: t), expected, "t = \(t)")
            XCTAssertEqual(registry.requiredEffort(for: .equihash96x5, at: t), 8)
            XCTAssertEqual(registry.requiredEffort(for: .argon2id1MiB, at: t), 2)
        }
        // The cap: 16 doublings, and never past UInt32.max.
        XCTAssertEqual(registry.requiredEffort(for: .hashcash1, at: since + 12 * period), UInt32.max)
        let small = AlgorithmRegistry(entries: [.init(algorithm: .hashcash1, status: .deprecated(since: since),
                                                      baseEffort: 4096)])
        XCTAssertEqual(small.requiredEffort(for: .hashcash1, at: since + 1000 * period), 4096 << 16)
        let huge = AlgorithmRegistry(entries: [.init(algorithm: .hashcash1, status: .deprecated(since: 0),
                                                     baseEffort: 1 << 31)], maximumDoublings: 100)
        XCTAssertEqual(huge.requiredEffort(for: .hashcash1, at: 1 << 40), UInt32.max)
        // Announcement: preferred first, with efforts at t.
        let late = AlgorithmRegistry(entries: [
            .init(algorithm: .hashcash1, status: .deprecated(since: since), baseEffort: 4096),
            .init(algorithm: .equihash96x5, status: .preferred, baseEffort: 8),
        ])
        XCTAssertEqual(late.requirement(at: since + period).map(\.algorithm), [.equihash96x5, .hashcash1])
        XCTAssertEqual(late.requirement(at: since + period).map(\.effort), [8, 8192])
        XCTAssertNil(late.requiredEffort(for: .argon2id1MiB, at: since))
    }

    // MARK: Pipeline

    func testValidStampIsAcceptedOnceThenReplayed() {
        var v = verifier()
        var argon = Argon2VerificationCounter()
        let recipient = ProofOfWorkStampTests.recipient
        let text = ProofOfWorkStampTests.stamp().render()
        XCTAssertEqual(v.verify(stampText: text, recipient: recipient, now: now, argon2: &argon), .accepted)
        XCTAssertEqual(v.kernel.calls, 1)
        XCTAssertEqual(v.verify(stampText: text, recipient: recipient, now: now + 60, argon2: &argon), .replayed)
        XCTAssertEqual(v.kernel.calls, 1, "a replay never reaches the kernel")
        XCTAssertEqual(v.store.entries[ProofOfWorkStampTests.nonce], now + 3 * day)
    }

    func testCheapChecksComeBeforeTheKernel() throws {
        let recipient = ProofOfWorkStampTests.recipient
        let bob = try Address.parseSMTorP("bob@" + onion)!
        let good = ProofOfWorkStampTests.stamp()
        var unsolved = good
        unsolved.effort = 7
        let requirements = AlgorithmRegistry.standard.requirement(at: now)
        // A forged stamp (wrong solution) that also fails a cheap check.
        let cases: [(String?, SMTorPAddress, Int64, PowOutcome)] = [
            (nil, recipient, now, .missing(requirements: requirements)),
            ("1:eqh96-5:8", recipient, now, .forged(.malformed(.syntax))),
            ("2:x", recipient, now, .unsupported(requirements: requirements)),
            (good.render(), recipient, now + 2 * day + 60,
             .stale(now: StampDate(unixSeconds: now + 2 * day + 60), requirements: requirements)),
            (good.render(), recipient, now - 2 * day - 60,
             .stale(now: StampDate(unixSeconds: now - 2 * day - 60), requirements: requirements)),
            (good.render(), bob, now, .forged(.wrongRecipient)),
            (unsolved.render(), recipient, now, .insufficient(required: 8, requirements: requirements)),
        ]
        for (text, rcpt, t, expected) in cases {
            var v = verifier(.invalid(reason: "bad tree"))
            var argon = Argon2VerificationCounter()
            XCTAssertEqual(v.verify(stampText: text, recipient: rcpt, now: t, argon2: &argon), expected)
            XCTAssertEqual(v.kernel.calls, 0, "\(expected) must not reach the kernel")
            XCTAssertTrue(v.store.entries.isEmpty)
        }
        // Passing every cheap check, the forgery reaches the kernel and is
        // refused there, and its nonce is not spent.
        var v = verifier(.invalid(reason: "bad tree"))
        var argon = Argon2VerificationCounter()
        XCTAssertEqual(v.verify(stampText: good.render(), recipient: recipient, now: now, argon2: &argon),
                       .forged(.invalidSolution("bad tree")))
        XCTAssertEqual(v.kernel.calls, 1)
        XCTAssertTrue(v.store.entries.isEmpty)
        // Within the window either way, at its edge.
        var edge = verifier()
        XCTAssertEqual(edge.verify(stampText: good.render(), recipient: recipient, now: now + 2 * day,
                                   argon2: &argon), .accepted)
    }

    func testFullAndShortRecipientFormsMatch() throws {
        let full = try Address.parseSMTorP("alice@" + label + "." + onion)!
        let short = ProofOfWorkStampTests.recipient
        var argon = Argon2VerificationCounter()
        var v = verifier()
        XCTAssertEqual(v.verify(stampText: ProofOfWorkStampTests.stamp(recipient: full).render(),
                                recipient: short, now: now, argon2: &argon), .accepted)
        var w = verifier()
        XCTAssertEqual(w.verify(stampText: ProofOfWorkStampTests.stamp(recipient: short).render(),
                                recipient: full, now: now, argon2: &argon), .accepted)
    }

    func testArgon2RateLimitPerSession() {
        var v = verifier()
        var argon = Argon2VerificationCounter()
        XCTAssertEqual(argon.limit, 20)
        let recipient = ProofOfWorkStampTests.recipient
        func stamp(_ i: Int) -> String {
            var s = ProofOfWorkStampTests.stamp(.argon2id1MiB, effort: 2)
            s.nonce[0] = UInt8(i)
            return s.render()
        }
        for i in 0..<20 {
            XCTAssertEqual(v.verify(stampText: stamp(i), recipient: recipient, now: now, argon2: &argon), .accepted)
        }
        let outcome = v.verify(stampText: stamp(20), recipient: recipient, now: now, argon2: &argon)
        XCTAssertEqual(outcome, .rateLimited(requirements: AlgorithmRegistry.standard.requirement(at: now)))
        XCTAssertEqual(v.kernel.calls, 20)
        XCTAssertEqual(outcome.reply?.code, 450)
        // Equihash is not limited; a new session has a new allowance.
        var s = ProofOfWorkStampTests.stamp()
        s.nonce[0] = 99
        XCTAssertEqual(v.verify(stampText: s.render(), recipient: recipient, now: now, argon2: &argon), .accepted)
        var next = Argon2VerificationCounter()
        XCTAssertEqual(v.verify(stampText: stamp(21), recipient: recipient, now: now, argon2: &next), .accepted)
    }

    func testReplies() {
        let requirements = AlgorithmRegistry.standard.requirement(at: AlgorithmRegistry.hashcashDeprecation)
        XCTAssertNil(PowOutcome.accepted.reply)
        XCTAssertEqual(PowOutcome.missing(requirements: requirements).reply,
                       Reply(450, EnhancedStatusCode(4, 7, 0),
                             "POW required: eqh96-5 effort 8, a2id-1m effort 2, hc1 effort 1048576"))
        XCTAssertEqual(PowOutcome.insufficient(required: 8, requirements: requirements).reply?.lines,
                       ["POW effort below 8; POW required: eqh96-5 effort 8, a2id-1m effort 2, hc1 effort 1048576"])
        XCTAssertEqual(PowOutcome.stale(now: StampDate(unixSeconds: 0), requirements: requirements).reply?.code, 450)
        XCTAssertEqual(PowOutcome.replayed.reply, Reply(550, EnhancedStatusCode(5, 7, 1),
                                                         "POW stamp refused: already used"))
        XCTAssertEqual(PowOutcome.forged(.wrongRecipient).reply?.enhanced, EnhancedStatusCode(5, 7, 1))
        XCTAssertTrue(PowOutcome.forged(.malformed(.badNonce)).isPermanent)
        XCTAssertFalse(PowOutcome.unsupported(requirements: requirements).isPermanent)
        XCTAssertEqual(PowOutcome.storeFailure("disk").reply?.code, 451)
    }

    // MARK: Durable store

    func testFileStoreRefusesReplayAfterReopening() throws {
        let directory = root + "/spent"
        let recipient = ProofOfWorkStampTests.recipient
        let text = ProofOfWorkStampTests.stamp().render()
        var argon = Argon2VerificationCounter()
        do {
            var v = StampVerifier(store: try DoubleSpendStore(directory: directory, now: now),
                                  kernel: CountingKernel())
            XCTAssertEqual(v.verify(stampText: text, recipient: recipient, now: now, argon2: &argon), .accepted)
        }
        var v = StampVerifier(store: try DoubleSpendStore(directory: directory, now: now + 60),
                              kernel: CountingKernel())
        XCTAssertEqual(v.verify(stampText: text, recipient: recipient, now: now + 60, argon2: &argon), .replayed)
        XCTAssertEqual(v.kernel.calls, 0)
        let mode = try FileManager.default.attributesOfItem(atPath: directory)[.posixPermissions] as? Int
        XCTAssertEqual(mode, 0o700)
    }

    func testFileStorePurgesExpiredEntriesAndCompacts() throws {
        let directory = root + "/spent"
        let store = try DoubleSpendStore(directory: directory, now: now)
        let old: [UInt8] = Array(repeating: 1, count: 16), fresh: [UInt8] = Array(repeating: 2, count: 16)
        try store.record(old, expires: now + 10)
        try store.record([(nonce: fresh, expires: now + 1000), (nonce: Array(repeating: 3, count: 16), expires: now + 1000)])
        XCTAssertEqual(store.segmentCount, 2)
        XCTAssertTrue(store.seen(old, now: now))
        XCTAssertFalse(store.seen(old, now: now + 10), "expired at its expiry")
        // A torn temporary file from a crash and a corrupt line are harmless.
        try Data("junk".utf8).write(to: URL(fileURLWithPath: directory + "/spent-3.log.tmp"))
        try Data("not a line\n".utf8).write(to: URL(fileURLWithPath: directory + "/spent-99.log"))

        let reopened = try DoubleSpendStore(directory: directory, now: now + 500)
        XCTAssertFalse(reopened.seen(old, now: now + 500))
        XCTAssertNil(reopened.entries[old], "purged")
        XCTAssertTrue(reopened.seen(fresh, now: now + 500))
        XCTAssertEqual(reopened.entries.count, 2)
        XCTAssertEqual(reopened.segmentCount, 1)
        let names = try FileManager.default.contentsOfDirectory(atPath: directory)
        XCTAssertEqual(names, ["spent-100.log"])

        // Past the threshold, recording compacts.
        for i in 0..<DoubleSpendStore.compactionThreshold {
            try reopened.record([UInt8](repeating: UInt8(10 + i), count: 16), expires: now + 2000)
        }
        XCTAssertEqual(reopened.segmentCount, 1)
        let last = try DoubleSpendStore(directory: directory, now: now + 1500)
        XCTAssertEqual(last.entries.count, DoubleSpendStore.compactionThreshold, "the new ones, not fresh")
        XCTAssertFalse(last.seen(fresh, now: now + 1500))
    }

    // MARK: The C kernel

    func testCoreKernelHashcashAndArgon2() throws {
        var kernel = CoreProofKernel()
        // hc1: a legacy token minted by the C core (the `hashcash` tool's
        // format) verifies; the same token with another counter does not.
        var out = [CChar](repeating: 0, count: 600)
        XCTAssertEqual(smtorp_hashcash_mint(12, "alice@" + onion, "261129", nil, &out, out.count, nil), SMTORP_WORK_OK)
        let token = String(cString: out)
        let stamp = try Stamp.parse(token)
        XCTAssertEqual(stamp.algorithm, .hashcash1)
        XCTAssertEqual(stamp.effort, 4096)
        XCTAssertEqual(stamp.render(), token)
        XCTAssertEqual(kernel.verify(algorithm: .hashcash1, challenge: [], effort: 4096, solution: stamp.solution), .valid)
        var bent = Array(token.utf8)
        bent[bent.count - 1] = bent[bent.count - 1] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        XCTAssertEqual(kernel.verify(algorithm: .hashcash1, challenge: [], effort: 4096, solution: bent),
                       .invalid(reason: "effort not met"), "a changed counter (one chance in 4096 to pass)")
        XCTAssertEqual(kernel.verify(algorithm: .hashcash1, challenge: [], effort: 4096, solution: Array("1:12".utf8)),
                       .invalid(reason: "not a hashcash v1 token"))
        // Argon2id: a 4-byte solution is the wrong length; a real one verifies.
        let challenge = ProofOfWorkStampTests.stamp(.argon2id1MiB, effort: 8).challenge(hash: kernel.digest)
        XCTAssertEqual(kernel.verify(algorithm: .argon2id1MiB, challenge: challenge, effort: 1, solution: [1, 2, 3, 4]),
                       .invalid(reason: "wrong solution length"))
        var nonce: UInt64 = 0
        XCTAssertEqual(smtorp_argon2_pow_solve(challenge, challenge.count, 8, 1, 1 << 20, 1, 0, &nonce, nil, nil, nil),
                       SMTORP_WORK_OK)
        let argon = (0..<8).map { UInt8((nonce >> (8 * UInt64($0))) & 0xff) }
        XCTAssertEqual(kernel.verify(algorithm: .argon2id1MiB, challenge: challenge, effort: 8, solution: argon), .valid)
        var wrong = argon
        wrong[0] ^= 1
        XCTAssertNotEqual(kernel.verify(algorithm: .argon2id1MiB, challenge: challenge, effort: 1 << 20, solution: wrong), .valid)
    }

    func testCoreKernelEquihash() throws {
        var kernel = CoreProofKernel()
        let challenge = ProofOfWorkStampTests.stamp().challenge(hash: kernel.digest)
        var solver: OpaquePointer? = nil
        XCTAssertEqual(smtorp_equihash_solver_new(96, 5, 1, &solver), SMTORP_POW_OK)
        defer { smtorp_equihash_solver_free(solver) }
        let length = smtorp_equihash_solution_length(96, 5)
        let attempt: [UInt8] = [0, 0, 0, 0]
        let seed = challenge + attempt
        var out = [UInt8](repeating: 0, count: length * 4)
        var found = 0
        XCTAssertEqual(smtorp_equihash_solve(solver, seed, seed.count, &out, 4, length, &found, nil, nil, nil),
                       SMTORP_POW_OK)
        XCTAssertGreaterThan(found, 0)
        let solution = attempt + Array(out[0..<length])
        XCTAssertEqual(kernel.verify(algorithm: .equihash96x5, challenge: challenge, effort: 1, solution: solution),
                       .valid)
        var corrupt = solution
        corrupt[10] ^= 0x40
        XCTAssertFalse(kernel.verify(algorithm: .equihash96x5, challenge: challenge, effort: 1,
                                     solution: corrupt).isValid)
        XCTAssertEqual(kernel.verify(algorithm: .equihash96x5, challenge: challenge, effort: 1,
                                     solution: Array(solution.dropLast())), .invalid(reason: "wrong solution length"))
        var otherAttempt = solution
        otherAttempt[3] = 1
        XCTAssertFalse(kernel.verify(algorithm: .equihash96x5, challenge: challenge, effort: 1,
                                     solution: otherAttempt).isValid, "the attempt is part of the seed")
    }
}

extension KernelVerdict {
    var isValid: Bool { self == .valid }
}
