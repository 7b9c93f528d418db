// libFuzzer entry for the state-file parser (issue 4, item 6). Built by scripts/fuzz-statefile in the
// same module as QQCore's sources (no `import QQCore`): any input must either be rejected with an
// InfoFileError or parse; a parsed record must survive encode → decode unchanged, and encoding it
// again must give the same text. A crash, a hang or a mismatch is a finding.

@_cdecl("LLVMFuzzerTestOneInput")
public func stateFileFuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : []
    let record: InfoRecord
    do {
        record = try InfoFileCodec.decode(bytes: bytes, path: "fuzz.qqinfo")
    } catch {
        _ = error.description   // the message must be printable
        return 0
    }
    let text = InfoFileCodec.encode(record)
    let again: InfoRecord
    do {
        again = try InfoFileCodec.decode(text, path: "fuzz.qqinfo")
    } catch {
        fatalError("the encoding of a parsed record does not parse: \(error)\n--- encoded:\n\(text)")
    }
    if again != record {
        fatalError("encode → decode changed the record\n--- first:\n\(record)\n--- second:\n\(again)\n--- encoded:\n\(text)")
    }
    let text2 = InfoFileCodec.encode(again)
    if text2 != text {
        fatalError("encoding is not stable\n--- first:\n\(text)\n--- second:\n\(text2)")
    }
    // The marker parser shares the YAML subset; it must not crash either.
    _ = try? InfoFileCodec.decodeMarker(bytes: bytes, path: "fuzz.marker")
    return 0
}
