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

extension PowRequirement {
    /// `offered` (a server's EHLO offers, in its order) with each effort
    /// raised to what the same server `asked` for that algorithm in a 450
    /// reply, when that was more; algorithms only `asked` for come after.
    public static func raising(_ offered: [PowRequirement], to asked: [PowRequirement]) -> [PowRequirement] {
        var result = offered.map { offer in
            let more = asked.first { $0.algorithm == offer.algorithm }.map { max($0.effort, offer.effort) }
            return PowRequirement(algorithm: offer.algorithm, effort: more ?? offer.effort)
        }
        for extra in asked where !offered.contains(where: { $0.algorithm == extra.algorithm }) {
            result.append(extra)
        }
        return result
    }
}
