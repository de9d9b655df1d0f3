// QREncoder.swift: the QR matrix of a text, from libqrencode (Debian's
// libqrencode-dev). Debian ships libqrencode only as a shared library, so the
// fully static build (scripts/build-static.sh) compiles with
// SMTORP_NO_QRENCODE and `smtorp address --qr*` says so instead.
import SMTorP
#if !SMTORP_NO_QRENCODE
import CQREncode
#endif

enum QREncoder {
    /// The matrix for `text` at error-correction level M, or nil with a reason.
    static func matrix(_ text: String) -> (QRMatrix?, String) {
        #if SMTORP_NO_QRENCODE
        return (nil, "this smtorp was built without libqrencode (the static build); use a dynamic build for QR codes")
        #else
        let bytes = Array(text.utf8)
        guard let code = bytes.withUnsafeBufferPointer({ p in
            QRcode_encodeData(Int32(p.count), p.baseAddress, 0, QR_ECLEVEL_M)
        }) else {
            return (nil, "libqrencode could not encode the text (too long for a QR code?)")
        }
        defer { QRcode_free(code) }
        let width = Int(code.pointee.width)
        var modules: [Bool] = []
        modules.reserveCapacity(width * width)
        for i in 0..<(width * width) { modules.append(code.pointee.data[i] & 1 == 1) }
        return (QRMatrix(width: width, modules: modules), "")
        #endif
    }
}
