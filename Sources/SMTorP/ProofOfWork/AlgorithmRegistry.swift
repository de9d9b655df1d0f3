// AlgorithmRegistry.swift: which proof-of-work algorithms a server accepts
// and the effort it requires for each at a given time (docs/spec.md §5, the
// algorithm upgrade path). Pure: the time is an argument.
//
// A deprecated algorithm's effort is base * 2^floor((t - since) / period):
// it doubles every period (90 days by default) until it reaches the cap
// (`maximumDoublings` doublings, and never above UInt32.max), which makes it
// ever less attractive without a flag day.

/// The algorithms a server accepts, with their status and base effort.
public struct AlgorithmRegistry: Equatable, Sendable {
    /// One algorithm's entry.
    public struct Entry: Equatable, Sendable {
        /// The algorithm.
        public var algorithm: PowAlgorithm
        /// Its status.
        public var status: AlgorithmStatus
        /// The effort required while it is not deprecated (and the base of the
        /// doubling once it is).
        public var baseEffort: UInt32

        /// Creates an entry.
        public init(algorithm: PowAlgorithm, status: AlgorithmStatus, baseEffort: UInt32) {
            self.algorithm = algorithm
            self.status = status
            self.baseEffort = baseEffort
        }
    }

    /// The default doubling period of a deprecated algorithm: 90 days.
    public static let defaultDoublingPeriod: Int64 = 90 * 86_400
    /// The default cap on doublings: 16 (a factor of 65536, about 4 years at
    /// the default period).
    public static let defaultMaximumDoublings = 16
    /// 2026-01-01T00:00:00Z, when `hc1` became deprecated.
    public static let hashcashDeprecation: Int64 = 1_767_225_600
    /// The base effort of `hc1`: 2^20 SHA-1 calls (20 bits), about the CPU
    /// time of `eqh96-5` at effort 8 on a PC, before any doubling (and with
    /// no memory cost, which is why it is deprecated).
    public static let hashcashBaseEffort: UInt32 = 1 << 20

    /// The entries, in the order they are announced.
    public var entries: [Entry]
    /// Seconds after which a deprecated algorithm's effort doubles (> 0).
    public var doublingPeriod: Int64
    /// The most doublings applied.
    public var maximumDoublings: Int

    /// Creates a registry.
    public init(entries: [Entry], doublingPeriod: Int64 = defaultDoublingPeriod,
                maximumDoublings: Int = defaultMaximumDoublings) {
        precondition(doublingPeriod > 0, "doubling period must be positive")
        self.entries = entries
        self.doublingPeriod = doublingPeriod
        self.maximumDoublings = maximumDoublings
    }

    /// The defaults: `eqh96-5` preferred at effort 8, `a2id-1m` accepted at 2,
    /// `hc1` deprecated since 2026-01-01 from 2^20.
    public static let standard = AlgorithmRegistry(entries: [
        Entry(algorithm: .equihash96x5, status: .preferred, baseEffort: 8),
        Entry(algorithm: .argon2id1MiB, status: .accepted, baseEffort: 2),
        Entry(algorithm: .hashcash1, status: .deprecated(since: hashcashDeprecation), baseEffort: hashcashBaseEffort),
    ])

    /// The effort required for `algorithm` at `now` (Unix seconds), or nil
    /// when the registry does not accept it.
    public func requiredEffort(for algorithm: PowAlgorithm, at now: Int64) -> UInt32? {
        guard let entry = entries.first(where: { $0.algorithm == algorithm }) else { return nil }
        return effort(of: entry, at: now)
    }

    /// Every accepted algorithm with its effort at `now`, preferred first:
    /// the content of the EHLO `POW` keyword.
    public func requirement(at now: Int64) -> [PowRequirement] {
        let ordered = entries.filter { $0.status == .preferred } + entries.filter { $0.status != .preferred }
        return ordered.map { PowRequirement(algorithm: $0.algorithm, effort: effort(of: $0, at: now)) }
    }

    func effort(of entry: Entry, at now: Int64) -> UInt32 {
        guard case .deprecated(let since) = entry.status, now > since else { return entry.baseEffort }
        let periods = (now - since) / doublingPeriod
        let doublings = Int(min(periods, Int64(min(max(maximumDoublings, 0), 32))))
        let effort = UInt64(entry.baseEffort) << UInt64(doublings)
        return effort > UInt64(UInt32.max) ? UInt32.max : UInt32(effort)
    }
}
