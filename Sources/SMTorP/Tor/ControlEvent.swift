// ControlEvent.swift: an asynchronous event from the control port (a 650
// reply), typed where smtorp acts on it (HS_DESC, STATUS_*), kept as the
// raw reply otherwise.
//
// Untrusted input: the event's lines from the control port; malformed
// HS_DESC and STATUS events are protocol violations (thrown), never crashes.
// Spec: Tor control-spec.txt §4.1 (events), §4.1.25 (HS_DESC),
// §4.1.10 (STATUS_GENERAL/CLIENT/SERVER).

/// An asynchronous event.
public enum ControlEvent: Equatable, Sendable {
    /// HS_DESC: progress of onion service descriptor uploads and fetches.
    case hsDescriptor(ControlHSDescriptorEvent)
    /// STATUS_GENERAL, STATUS_CLIENT or STATUS_SERVER.
    case status(ControlStatusEvent)
    /// Any other event: its keyword (first word) and the whole reply.
    case other(keyword: String, reply: ControlReply)

    /// Types an event reply.
    public init(parsing reply: ControlReply) throws(ControlError) {
        let text = reply.firstText
        let keyword = String(decoding: text.utf8.prefix { $0 != UInt8(ascii: " ") }, as: UTF8.self)
        switch keyword {
        case "HS_DESC":
            self = .hsDescriptor(try ControlHSDescriptorEvent(parsing: text))
        case "STATUS_GENERAL", "STATUS_CLIENT", "STATUS_SERVER":
            self = .status(try ControlStatusEvent(parsing: text))
        default:
            self = .other(keyword: keyword, reply: reply)
        }
    }
}
