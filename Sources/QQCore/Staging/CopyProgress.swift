import Synchronization

/// How far a copy has got: files and bytes done, added by the copy threads and read by the
/// runtime's loop while they work (issue 12 item 5). Relaxed atomics: a reader needs a recent
/// value, not an exact one.
package final class CopyProgress: Sendable {
    private let files = Atomic<Int>(0)
    private let bytes = Atomic<Int64>(0)

    package init() {}

    func add(files f: Int, bytes b: Int64) {
        files.add(f, ordering: .relaxed)
        bytes.add(b, ordering: .relaxed)
    }

    package var done: (files: Int, bytes: Int64) { (files.load(ordering: .relaxed), bytes.load(ordering: .relaxed)) }
}
