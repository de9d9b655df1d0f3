// SendmailInvocation.swift: the sendmail(1) command line as mail user agents
// use it (mutt, neomutt, git send-email), and the -t recipient extraction.
//
//   sendmail [-t] [-i | -oi] [-f sender] [-F fullname] [--] [recipient ...]
//
// Untrusted input: the command line and the message on standard input
// (header fields parsed for -t: To, Cc, Bcc; RFC 5322 §3.6.3). Bcc is
// removed from the message before it is queued, as sendmail does.
// Unknown single-letter options that MUAs pass and that do not change the
// outcome (-oem, -odb, -oQ…, -v) are accepted and ignored; anything else is
// a clear error.

/// A parsed sendmail(1) invocation.
public struct SendmailInvocation: Equatable, Sendable {
    /// -t: take recipients from To, Cc and Bcc.
    public var recipientsFromHeaders = false
    /// -i / -oi: a line with a single dot does not end the message (always
    /// true for smtorp, which reads to end of input; kept for reporting).
    public var ignoreDots = false
    /// -f: the envelope sender.
    public var sender: String?
    /// -F: the sender's full name (used only to add a From: if missing).
    public var fullName: String?
    /// Recipients given as arguments.
    public var recipients: [String] = []

    /// Why a command line was refused.
    public enum Error: Swift.Error, Equatable, Sendable {
        case missingValue(String)
        case unknownOption(String)
    }

    /// Parses the arguments after the program name.
    public static func parse(_ args: [String]) throws(Error) -> SendmailInvocation {
        var inv = SendmailInvocation()
        var i = 0
        var onlyRecipients = false
        while i < args.count {
            let a = args[i]
            i += 1
            if onlyRecipients || !a.hasPrefix("-") || a == "-" {
                inv.recipients.append(a)
                continue
            }
            switch a {
            case "--": onlyRecipients = true
            case "-t": inv.recipientsFromHeaders = true
            case "-i", "-oi": inv.ignoreDots = true
            case "-f", "-F", "-r":
                guard i < args.count else { throw .missingValue(a) }
                if a == "-F" { inv.fullName = args[i] } else { inv.sender = args[i] }
                i += 1
            case "-v", "-oem", "-oee", "-odb", "-odi", "-odq", "-om", "-oep", "-ow", "-U", "-Am", "-Ac":
                break  // delivery-mode and error-mode options: ours is always "queue durably"
            default:
                if a.hasPrefix("-f") && a.utf8.count > 2 { inv.sender = String(a.dropFirst(2)); continue }
                if a.hasPrefix("-F") && a.utf8.count > 2 { inv.fullName = String(a.dropFirst(2)); continue }
                if a.hasPrefix("-r") && a.utf8.count > 2 { inv.sender = String(a.dropFirst(2)); continue }
                if a.hasPrefix("-oQ") || a.hasPrefix("-O") || a.hasPrefix("-B") || a.hasPrefix("-N") || a.hasPrefix("-R") || a.hasPrefix("-V") || a.hasPrefix("-X") {
                    if a.utf8.count == 2 { i += 1 }  // option with a separate value
                    continue
                }
                throw .unknownOption(a)
            }
        }
        return inv
    }

    /// Normalises line ends to CRLF (MUAs pipe bare LF), extracts the -t
    /// recipients from To/Cc/Bcc, and removes Bcc fields. Returns the
    /// message to queue and the header recipients (addresses only).
    public static func prepare(message: [UInt8], extractRecipients: Bool) -> (message: [UInt8], recipients: [String]) {
        // CRLF everywhere: a bare LF or a bare CR becomes CRLF.
        var crlf: [UInt8] = []
        crlf.reserveCapacity(message.count + message.count / 40)
        var i = 0
        while i < message.count {
            let b = message[i]
            if b == 13 {
                crlf += [13, 10]
                if i + 1 < message.count && message[i + 1] == 10 { i += 1 }
            } else if b == 10 {
                crlf += [13, 10]
            } else {
                crlf.append(b)
            }
            i += 1
        }
        if !crlf.isEmpty && (crlf.count < 2 || crlf[crlf.count - 2] != 13 || crlf[crlf.count - 1] != 10) { crlf += [13, 10] }

        // Split header fields (with their continuation lines) from the body.
        var fields: [[UInt8]] = []
        var p = 0
        var bodyStart = crlf.count
        while p < crlf.count {
            var e = p
            while e + 1 < crlf.count && !(crlf[e] == 13 && crlf[e + 1] == 10) { e += 1 }
            let line = Array(crlf[p..<e])
            let next = min(e + 2, crlf.count)
            if line.isEmpty { bodyStart = next; break }
            if (line[0] == 32 || line[0] == 9), !fields.isEmpty {
                fields[fields.count - 1] += [13, 10] + line
            } else {
                fields.append(line)
            }
            p = next
            bodyStart = next
        }
        var recipients: [String] = []
        var kept: [UInt8] = []
        for f in fields {
            let colon = f.firstIndex(of: UInt8(ascii: ":")) ?? f.count
            let name = lowercasedASCII(String(decoding: trim(Array(f[0..<colon])), as: UTF8.self))
            if extractRecipients && (name == "to" || name == "cc" || name == "bcc") && colon < f.count {
                recipients += addresses(in: Array(f[(colon + 1)...]))
            }
            if name == "bcc" { continue }
            kept += f + [13, 10]
        }
        var out = kept
        out += [13, 10]
        if bodyStart < crlf.count { out += crlf[bodyStart...] }
        if fields.isEmpty { out = crlf }  // no header at all: leave it as it is
        return (out, recipients)
    }

    /// The addr-specs in an address-list header value (RFC 5322 §3.4):
    /// `Name <a@b>`, bare `a@b`, groups `g: a@b, c@d;`, comments dropped.
    static func addresses(in value: [UInt8]) -> [String] {
        var out: [String] = []
        var current: [UInt8] = []
        var angle: [UInt8]? = nil
        var inQuote = false
        var depth = 0
        func flush() {
            let candidate = angle ?? trim(current)
            let text = String(decoding: trim(candidate), as: UTF8.self)
            if text.utf8.contains(UInt8(ascii: "@")) { out.append(text) }
            current = []
            angle = nil
        }
        var i = 0
        while i < value.count {
            let b = value[i]
            if inQuote {
                if b == UInt8(ascii: "\\") { i += 1 } else if b == UInt8(ascii: "\"") { inQuote = false }
                current.append(b)
            } else if depth > 0 {
                if b == UInt8(ascii: "(") { depth += 1 } else if b == UInt8(ascii: ")") { depth -= 1 }
            } else {
                switch b {
                case UInt8(ascii: "\""): inQuote = true; current.append(b)
                case UInt8(ascii: "("): depth = 1
                case UInt8(ascii: "<"):
                    var a: [UInt8] = []
                    i += 1
                    while i < value.count && value[i] != UInt8(ascii: ">") { a.append(value[i]); i += 1 }
                    angle = a
                case UInt8(ascii: ","), UInt8(ascii: ";"): flush()
                case UInt8(ascii: ":"): current = []  // a group name
                case 13, 10: break
                default: current.append(b)
                }
            }
            i += 1
        }
        flush()
        return out
    }
}
