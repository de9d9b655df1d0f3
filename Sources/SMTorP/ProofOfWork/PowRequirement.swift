// PowRequirement.swift: one algorithm and the effort a server requires for
// it, as announced after EHLO and repeated in 4xx replies.

/// An algorithm a server accepts and the least effort it requires for it.
public struct PowRequirement: Equatable, Sendable {
    /// The algorithm.
    public var algorithm: PowAlgorithm
    /// The least effort accepted.
    public var effort: UInt32

    /// Creates a requirement.
    public init(algorithm: PowAlgorithm, effort: UInt32) {
        self.algorithm = algorithm
        self.effort = effort
    }
}
