// QRMatrix.swift: renders a QR code's module matrix for people: as terminal
// text with Unicode half blocks, as a PNG file and as an SVG file. The
// matrix itself comes from libqrencode (in the command-line tool).
//
// Untrusted input: none (the matrix is ours). The PNG writer is minimal but
// standard: 8-bit greyscale, one IDAT holding a zlib stream of stored
// (uncompressed) deflate blocks (RFC 1950, RFC 1951 §3.2.4), CRC-32 per
// chunk (PNG spec §5.5) — no zlib needed.

/// A square QR symbol: `width` × `width` modules, row-major, true = dark.
public struct QRMatrix: Equatable, Sendable {
    public let width: Int
    public let modules: [Bool]

    public init?(width: Int, modules: [Bool]) {
        guard width > 0, modules.count == width * width else { return nil }
        self.width = width
        self.modules = modules
    }

    func dark(_ x: Int, _ y: Int) -> Bool {
        x >= 0 && y >= 0 && x < width && y < width && modules[y * width + x]
    }

    /// Terminal text, two module rows per line, light modules drawn as
    /// blocks (for the usual light-on-dark terminal), with a quiet zone.
    public func terminalText(quietZone: Int = 2) -> String {
        var out = ""
        var y = -quietZone
        while y < width + quietZone {
            for x in -quietZone..<(width + quietZone) {
                switch (dark(x, y), dark(x, y + 1)) {
                case (false, false): out += "█"
                case (false, true): out += "▀"
                case (true, false): out += "▄"
                case (true, true): out += " "
                }
            }
            out += "\n"
            y += 2
        }
        return out
    }

    /// A PNG image, `scale` pixels per module, dark on white.
    public func png(scale: Int = 8, quietZone: Int = 4) -> [UInt8] {
        let side = (width + 2 * quietZone) * scale
        var raw: [UInt8] = []
        raw.reserveCapacity((side + 1) * side)
        for py in 0..<side {
            raw.append(0)  // filter type None
            let my = py / scale - quietZone
            for px in 0..<side {
                raw.append(dark(px / scale - quietZone, my) ? 0 : 255)
            }
        }
        var out: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        var ihdr: [UInt8] = []
        ihdr += Self.bigEndian(UInt32(side))
        ihdr += Self.bigEndian(UInt32(side))
        ihdr += [8, 0, 0, 0, 0]  // 8-bit, greyscale, deflate, adaptive filtering, no interlace
        Self.chunk("IHDR", ihdr, into: &out)
        Self.chunk("IDAT", Self.zlibStored(raw), into: &out)
        Self.chunk("IEND", [], into: &out)
        return out
    }

    /// An SVG image, one path of unit squares, dark on white.
    public func svg(scale: Int = 8, quietZone: Int = 4) -> String {
        let side = width + 2 * quietZone
        var d = ""
        for y in 0..<width {
            for x in 0..<width where modules[y * width + x] {
                d += "M" + String(x + quietZone) + " " + String(y + quietZone) + "h1v1h-1z"
            }
        }
        return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            + "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + String(side * scale) + "\" height=\""
            + String(side * scale) + "\" viewBox=\"0 0 " + String(side) + " " + String(side)
            + "\" shape-rendering=\"crispEdges\">\n<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n"
            + "<path fill=\"#000\" d=\"" + d + "\"/>\n</svg>\n"
    }

    static func bigEndian(_ v: UInt32) -> [UInt8] {
        [UInt8(v >> 24), UInt8((v >> 16) & 0xff), UInt8((v >> 8) & 0xff), UInt8(v & 0xff)]
    }

    static func chunk(_ type: String, _ data: [UInt8], into out: inout [UInt8]) {
        out += bigEndian(UInt32(data.count))
        let typed = Array(type.utf8) + data
        out += typed
        out += bigEndian(crc32(typed))
    }

    /// zlib stream (RFC 1950) of stored deflate blocks (RFC 1951 §3.2.4).
    static func zlibStored(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]
        var offset = 0
        repeat {
            let n = min(65_535, data.count - offset)
            let final: UInt8 = offset + n == data.count ? 1 : 0
            out.append(final)
            out += [UInt8(n & 0xff), UInt8(n >> 8), UInt8(~n & 0xff), UInt8((~n >> 8) & 0xff)]
            out += data[offset..<(offset + n)]
            offset += n
        } while offset < data.count
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in data {
            a = (a + UInt32(byte)) % 65_521
            b = (b + a) % 65_521
        }
        out += bigEndian(b << 16 | a)
        return out
    }

    /// CRC-32 (ISO 3309, as PNG uses it).
    static func crc32(_ data: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xffff_ffff
        for byte in data {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = (crc >> 1) ^ (0xedb8_8320 & (0 &- (crc & 1))) }
        }
        return ~crc
    }
}
