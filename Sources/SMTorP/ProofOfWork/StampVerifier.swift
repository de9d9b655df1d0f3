// StampVerifier.swift: checks the stamp of one RCPT, cheapest checks first
// (docs/spec.md §5). Pure apart from its store and kernel, which it is
// generic over; the time is an argument.
//
// Order, and why:
//   1. parse                  string work only
//   2. date window            one comparison
//   3. recipient binding      compares normalised addresses
//   4. effort >= required     registry arithmetic
//   5. double spend           one lookup in memory (a legacy hashcash
//                             token's key is one SHA-256 of it)
//   6. Argon2id rate limit    a counter, only for the costly algorithm
//   7. kernel                 the hashing (32 BLAKE2b calls for Equihash,
//                             1 MiB of Argon2id), reached only by stamps
//                             that passed everything else
//   8. record the nonce       durable before the RCPT is accepted
// so that a client cannot make the server hash for a stamp that a cheap
// check would refuse.
//
// Untrusted input: the `POW=` value of RCPT commands from any client.

/// Verifies stamps against a registry, a spent-nonce store and a kernel.
public struct StampVerifier<Store: DoubleSpendStoring, Kernel: ProofKernel> {
    /// The accepted algorithms and their efforts.
    public var registry: AlgorithmRegistry
    /// The limits (date window, grace, lengths).
    public var limits: ProofOfWorkLimits
    /// The spent nonces.
    public var store: Store
    /// The hash computations.
    public var kernel: Kernel

    /// Creates a verifier.
    public init(registry: AlgorithmRegistry = .standard, limits: ProofOfWorkLimits = ProofOfWorkLimits(),
                store: Store, kernel: Kernel) {
        self.registry = registry
        self.limits = limits
        self.store = store
        self.kernel = kernel
    }

    /// The requirements announced at `now` (EHLO and 4xx replies).
    public func requirements(at now: Int64) -> [PowRequirement] {
        registry.requirement(at: now)
    }

    /// Checks `stampText` (the `POW=` value, nil when absent) for the RCPT
    /// address `recipient` at `now` (Unix seconds). `argon2` is the
    /// session's counter. On acceptance the nonce is recorded as spent.
    public mutating func verify(stampText: String?, recipient: SMTorPAddress, now: Int64,
                                argon2: inout Argon2VerificationCounter) -> PowOutcome {
        let requirements = registry.requirement(at: now)
        guard let stampText else { return .missing(requirements: requirements) }
        // 1. parse
        let stamp: Stamp
        do throws(StampError) {
            stamp = try Stamp.parse(stampText, limits: limits)
        } catch {
            switch error {
            case .unknownVersion, .unknownAlgorithm: return .unsupported(requirements: requirements)
            default: return .forged(.malformed(error))
            }
        }
        // 2. date window (either way: a date far ahead would outlive the
        // spent-nonce memory)
        let distance = stamp.date.unixSeconds > now ? stamp.date.unixSeconds - now : now - stamp.date.unixSeconds
        guard distance <= limits.dateWindow else {
            return .stale(now: StampDate(unixSeconds: now), requirements: requirements)
        }
        // 3. recipient binding: short forms, so full and short match
        guard stamp.recipient.shortText == recipient.shortText else { return .forged(.wrongRecipient) }
        // 4. effort
        guard let required = registry.requiredEffort(for: stamp.algorithm, at: now) else {
            return .unsupported(requirements: requirements)
        }
        guard stamp.effort >= required else {
            return .insufficient(required: required, requirements: requirements)
        }
        // 5. double spend
        let spendKey = stamp.spendKey(hash: kernel.digest)
        guard !store.seen(spendKey, now: now) else { return .replayed }
        // 6. rate limit of the costly algorithm
        if stamp.algorithm.isCostlyToVerify {
            guard argon2.admit() else { return .rateLimited(requirements: requirements) }
        }
        // 7. kernel
        // (a legacy token is its own challenge: the kernel hashes it whole)
        let challenge = stamp.isLegacy ? [] : stamp.challenge(hash: kernel.digest)
        switch kernel.verify(algorithm: stamp.algorithm, challenge: challenge, effort: stamp.effort,
                             solution: stamp.solution) {
        case .valid: break
        case .invalid(let reason): return .forged(.invalidSolution(reason))
        case .unavailable: return .unavailable(requirements: requirements)
        }
        // 8. spend the nonce, durably, before the RCPT is accepted
        do throws(CoreError) {
            try store.record(spendKey, expires: expiry(of: stamp))
        } catch {
            return .storeFailure(error.message)
        }
        return .accepted
    }

    /// When a stamp's nonce may be forgotten: after the date window closes
    /// for it, plus the grace period.
    public func expiry(of stamp: Stamp) -> Int64 {
        stamp.date.unixSeconds + limits.dateWindow + limits.spentNonceGrace
    }
}
