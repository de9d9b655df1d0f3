// CoreError.swift: a failure reported by the C core (smtorp_result), as a
// typed Swift error.
import SMTorPCore

/// An error from the C core, carrying its result code and description.
public struct CoreError: Error, Equatable, Sendable {
    /// The C core's result code.
    public let code: UInt32
    /// Optional context: what was being done (a path, an address).
    public let context: String

    /// Wraps a C result.
    public init(_ result: smtorp_result, context: String = "") {
        self.code = result.rawValue
        self.context = context
    }

    /// True when this is the C core's "already exists" result.
    public var isExists: Bool { code == SMTORP_ERR_EXISTS.rawValue }

    /// The C core's description, with the context in front when there is one.
    public var message: String {
        let text = String(cString: smtorp_result_string(smtorp_result(rawValue: code)))
        return context.isEmpty ? text : context + ": " + text
    }

    /// Throws unless `result` is SMTORP_OK.
    public static func check(_ result: smtorp_result, context: String = "") throws(CoreError) {
        if result != SMTORP_OK { throw CoreError(result, context: context) }
    }
}

/// The text of a NUL-terminated C buffer filled by the core.
func string(fromCBuffer buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
