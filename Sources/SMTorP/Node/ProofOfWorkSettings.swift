// ProofOfWorkSettings.swift: a node's proof-of-work settings (docs/spec.md
// §5, docs/configuration.md): whether its onion listener requires stamps,
// the base effort of each algorithm, and the threads its own solver uses.

/// What a node requires of senders, and how it solves for its own mail.
public struct ProofOfWorkSettings: Equatable, Sendable {
    /// Whether the onion listener announces POW and requires a stamp per
    /// recipient (`pow = on`, the default; `off` is for tests and closed
    /// setups only: SMTorP makes POW mandatory).
    public var required = true
    /// Base effort of `eqh96-5` (preferred); 0 refuses the algorithm.
    public var equihashEffort: UInt32 = 8
    /// Base effort of `a2id-1m` (accepted); 0 refuses the algorithm.
    public var argon2Effort: UInt32 = 2
    /// Base effort of `hc1` (deprecated since 2026-01-01, doubling every 90
    /// days); 0 refuses the algorithm.
    public var hashcashEffort: UInt32 = AlgorithmRegistry.hashcashBaseEffort
    /// Threads of this node's own solver (outbound mail); 0 = one per CPU.
    public var solverThreads = 0

    public init() {}

    /// The registry these settings describe.
    public var registry: AlgorithmRegistry {
        var entries: [AlgorithmRegistry.Entry] = []
        if equihashEffort > 0 {
            entries.append(.init(algorithm: .equihash96x5, status: .preferred, baseEffort: equihashEffort))
        }
        if argon2Effort > 0 {
            entries.append(.init(algorithm: .argon2id1MiB, status: .accepted, baseEffort: argon2Effort))
        }
        if hashcashEffort > 0 {
            entries.append(.init(algorithm: .hashcash1, status: .deprecated(since: AlgorithmRegistry.hashcashDeprecation),
                                 baseEffort: hashcashEffort))
        }
        return AlgorithmRegistry(entries: entries)
    }
}
