namespace Tessera.Fuzz.Tests;

/// <summary>
/// The fuzzers' findings as ordinary unit tests: every file of tests/fuzz/corpus/&lt;target&gt; (what AFL++ found
/// interesting, plus the hand-made seed-* inputs) and tests/fuzz/crashes/&lt;target&gt; (every input that once crashed
/// or hung a target, kept after the fix) goes through its target once, without instrumentation.
/// </summary>
public class ReplayTests
{
    private static readonly string FuzzDirectory = FindFuzzDirectory();

    public static TheoryData<string, string> Inputs()
    {
        var data = new TheoryData<string, string>();
        foreach (var kind in new[] { "corpus", "crashes" })
        {
            var root = Path.Combine(FuzzDirectory, kind);
            if (!Directory.Exists(root))
            {
                continue;
            }
            foreach (var folder in Directory.GetDirectories(root).Order(StringComparer.Ordinal))
            {
                foreach (var file in Directory.GetFiles(folder).Order(StringComparer.Ordinal))
                {
                    data.Add(Path.GetFileName(folder), Path.GetRelativePath(FuzzDirectory, file).Replace('\\', '/'));
                }
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void Input_replays_cleanly(string target, string file)
    {
        Assert.True(FuzzTargets.All.TryGetValue(target, out var run), $"{file}: no target named {target}");
        run!(File.ReadAllBytes(Path.Combine(FuzzDirectory, file)));
    }

    [Fact]
    public void Every_target_has_a_seeded_corpus()
    {
        foreach (var target in FuzzTargets.All.Keys)
        {
            var folder = Path.Combine(FuzzDirectory, "corpus", target);
            Assert.True(Directory.Exists(folder), $"no corpus for {target}");
            Assert.Contains(Directory.GetFiles(folder), f => Path.GetFileName(f).StartsWith("seed-", StringComparison.Ordinal));
        }
    }

    /// <summary>The replay stays fast: small files, a few hundred per target at most (run.sh caps what it copies).</summary>
    [Fact]
    public void Corpora_stay_small()
    {
        foreach (var folder in Directory.GetDirectories(Path.Combine(FuzzDirectory, "corpus")))
        {
            var files = Directory.GetFiles(folder);
            Assert.True(files.Length <= 400, $"{folder}: {files.Length} files");
            Assert.All(files, f => Assert.True(new FileInfo(f).Length <= 64 * 1024, $"{f} is over 64 KB"));
        }
    }

    /// <summary>tests/fuzz, found from the test's output folder upwards (the inputs are read in place, not copied).</summary>
    private static string FindFuzzDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "fuzz");
            if (Directory.Exists(Path.Combine(candidate, "corpus")))
            {
                return candidate;
            }
            if (dir.Name == "fuzz" && Directory.Exists(Path.Combine(dir.FullName, "corpus")))
            {
                return dir.FullName;
            }
        }
        throw new DirectoryNotFoundException("tests/fuzz/corpus not found above " + AppContext.BaseDirectory);
    }
}
