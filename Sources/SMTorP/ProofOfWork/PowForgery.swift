// PowForgery.swift: why a stamp is refused permanently.

/// Why a stamp can never be accepted (a 5xx refusal).
public enum PowForgery: Equatable, Sendable {
    /// The text is not a stamp (any StampError but an unknown version or
    /// algorithm, which are temporary refusals).
    case malformed(StampError)
    /// The stamp is for another recipient.
    case wrongRecipient
    /// The kernel refused the solution (the reason is the kernel's).
    case invalidSolution(String)

    /// A short English description.
    public var text: String {
        switch self {
        case .malformed(let error): return error.text
        case .wrongRecipient: return "stamp is for another recipient"
        case .invalidSolution(let reason): return "invalid solution (" + reason + ")"
        }
    }
}
