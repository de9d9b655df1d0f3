// Base32.swift: RFC 4648 §6 base32, lower case, without padding, as used by
// Tor v3 onion addresses (rend-spec-v3 §6) and SMTorP fingerprint labels.
//
// Untrusted input: decode() sees address labels typed by users or received
// from the network; it rejects anything outside the alphabet.

/// RFC 4648 base32 in the lower-case, unpadded form onion names use.
public enum Base32 {
    /// RFC 4648 §6, lower case.
    public static let alphabet: [UInt8] = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)

    /// Encodes bytes as lower-case base32 without `=` padding (`alphabet`
    /// may be another 32-character alphabet, e.g. the queue's base32hex).
    public static func encode(_ bytes: [UInt8], alphabet: [UInt8] = Base32.alphabet) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count * 8 + 4) / 5)
        var buffer: UInt32 = 0
        var bits = 0
        for byte in bytes {
            buffer = (buffer << 8) | UInt32(byte)
            bits += 8
            while bits >= 5 {
                bits -= 5
                out.append(alphabet[Int((buffer >> UInt32(bits)) & 31)])
            }
        }
        if bits > 0 {
            out.append(alphabet[Int((buffer << UInt32(5 - bits)) & 31)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes unpadded base32 (either case). Returns nil on a character
    /// outside the alphabet or on non-zero trailing bits.
    public static func decode(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for c in text.utf8 {
            let value: UInt32
            switch c {
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = UInt32(c - UInt8(ascii: "a"))
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = UInt32(c - UInt8(ascii: "A"))
            case UInt8(ascii: "2")...UInt8(ascii: "7"): value = UInt32(c - UInt8(ascii: "2")) + 26
            default: return nil
            }
            buffer = (buffer << 5) | value
            bits += 5
            if bits >= 8 {
                bits -= 8
                out.append(UInt8((buffer >> UInt32(bits)) & 0xff))
            }
        }
        if bits > 0 && (buffer & ((1 << UInt32(bits)) - 1)) != 0 { return nil }
        return out
    }
}
