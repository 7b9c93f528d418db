// Issue 12 items 1 and 5: what the state file says about periodic sync and a copy under way, and
// how qq-info and the log put it in words.

import Testing
@testable import QQCore

@Suite struct StagingProgressTests {
    @Test func progressReadsAsDoneOfTotalWithRateAndTimeLeft() {
        let p = CopyProgressStats(phase: "stage_in", files: 4211, filesTotal: 10001, bytes: 1_288_490_189,
                                  bytesTotal: 3_650_722_201, rate: 36_700_160, started: Timestamp(epochSeconds: 0))
        #expect(StagingProgress.describe(p) == "Staging in: 4,211/10,001 files, 1229mb/3482mb, 35mb/s, about 00:01:04 left")
    }

    @Test func progressWithoutTotalsShowsWhatIsDone() {
        let p = CopyProgressStats(phase: "stage_out", files: 37, filesTotal: nil, bytes: 2048, bytesTotal: nil, rate: 1024,
                                  started: Timestamp(epochSeconds: 0))
        #expect(StagingProgress.describe(p) == "Staging out: 37 files, 2kb, 1kb/s")
    }

    @Test func syncAndProgressSurviveTheStateFile() throws {
        var r = sampleRecord()
        r.sync = SyncStats(count: 3, last: Timestamp(epochSeconds: 1_700_000_000), files: 37, bytes: 1_288_490_189, seconds: 1.25, skipped: 1)
        r.progress = CopyProgressStats(phase: "sync", files: 5, filesTotal: nil, bytes: 10, bytesTotal: nil, rate: 2.5,
                                       started: Timestamp(epochSeconds: 1_700_000_000))
        let back = try InfoFileCodec.decode(InfoFileCodec.encode(r), path: "x")
        #expect(back.sync == r.sync)
        #expect(back.progress == r.progress)
    }

    @Test func aMalformedSyncMappingIsIgnoredNotFatal() throws {
        let text = InfoFileCodec.encode(sampleRecord()) + "sync: 'not a mapping'\n"
        #expect(try InfoFileCodec.decode(text, path: "x").sync == nil)
    }

    @Test func thousandsAreGrouped() {
        #expect(StagingProgress.grouped(0) == "0")
        #expect(StagingProgress.grouped(999) == "999")
        #expect(StagingProgress.grouped(50001) == "50,001")
        #expect(StagingProgress.grouped(1234567) == "1,234,567")
    }
}
