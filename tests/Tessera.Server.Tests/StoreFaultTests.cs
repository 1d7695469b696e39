using System.Diagnostics;
using System.Net;

namespace Tessera.Server.Tests;

/// <summary>Runs only as root (mounting a tmpfs needs it; CI and the test command's set-up run as root).</summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (Environment.UserName != "root")
        {
            Skip = "needs root to mount a small tmpfs for the data directory";
        }
    }
}

/// <summary>Runs only where chattr +i works (root, on a file system with the immutable attribute, such as ext4).</summary>
public sealed class ImmutableFilesFactAttribute : FactAttribute
{
    public static string Root => Path.Combine(AppContext.BaseDirectory, "store-faults");

    public ImmutableFilesFactAttribute()
    {
        Skip = Probe();
    }

    private static string? Probe()
    {
        if (Environment.UserName != "root")
        {
            return "needs root for chattr +i";
        }
        Directory.CreateDirectory(Root);
        var probe = Path.Combine(Root, "probe-" + Guid.NewGuid().ToString("N"));
        File.WriteAllText(probe, "");
        try
        {
            using var chattr = Process.Start(new ProcessStartInfo("chattr", ["+i", probe]) { RedirectStandardError = true })!;
            chattr.WaitForExit();
            if (chattr.ExitCode != 0)
            {
                return "chattr +i is not supported where the tests run";
            }
            Process.Start("chattr", ["-i", probe])!.WaitForExit();
            return null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "chattr is not installed";
        }
        finally
        {
            File.Delete(probe);
        }
    }
}

/// <summary>
/// CONTRACT §4: when the account store cannot commit writes (here: its disk is full), /auth/* answers 503 {message}
/// with Retry-After and /healthz 503, nothing is corrupted, and service resumes by itself when space returns.
/// </summary>
public class StoreFaultTests
{
    private static async Task RunAsync(string file, params string[] args)
    {
        using var process = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardError = true })!;
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', args)}: {await error}");
    }

    [RootFact]
    public async Task A_full_disk_gives_503_with_retry_after_and_service_resumes_when_space_returns()
    {
        var data = Path.Combine(Path.GetTempPath(), "tessera-full-disk-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(data);
        await RunAsync("mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", data);
        try
        {
            await using var server = await ServerProcess.StartAsync(data);
            using (var first = await server.PostJsonAsync("/auth/register", new { username = "alice", password = "correct horse battery" }))
            {
                Assert.Equal(HttpStatusCode.Created, first.StatusCode);
            }

            // Fill what is left of the file system.
            var filler = Path.Combine(data, "filler");
            await using (var stream = File.Create(filler))
            {
                var chunk = new byte[64 * 1024];
                try
                {
                    for (var i = 0; i < 1000; i++)
                    {
                        stream.Write(chunk);
                        stream.Flush(flushToDisk: true);
                    }
                }
                catch (IOException)
                {
                    // ENOSPC: the disk is full.
                }
            }

            using (var refused = await server.PostJsonAsync("/auth/register", new { username = "bob", password = "correct horse battery" }))
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
                Assert.True(refused.Headers.RetryAfter is not null, "no Retry-After");
                Assert.Equal("application/json", refused.Content.Headers.ContentType!.MediaType);
                Assert.Contains("\"message\"", await refused.Content.ReadAsStringAsync());
            }
            using (var health = await server.Http.GetAsync("/healthz"))
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
            }

            File.Delete(filler);
            using (var again = await server.PostJsonAsync("/auth/register", new { username = "bob", password = "correct horse battery" }))
            {
                Assert.Equal(HttpStatusCode.Created, again.StatusCode);
            }
            using (var health = await server.Http.GetAsync("/healthz"))
            {
                Assert.Equal(HttpStatusCode.OK, health.StatusCode);
            }
            // What was committed before the fault is intact.
            var (token, _) = await server.LoginAsync("alice", "correct horse battery");
            Assert.False(string.IsNullOrEmpty(token));
            Assert.DoesNotContain("correct horse battery", server.Output);
        }
        finally
        {
            await RunAsync("umount", "-l", data);
            Directory.Delete(data, recursive: true);
        }
    }

    [ImmutableFilesFact]
    public async Task A_read_only_database_gives_503_and_service_resumes_when_it_is_writable_again()
    {
        var data = Path.Combine(ImmutableFilesFactAttribute.Root, Guid.NewGuid().ToString("N"));
        await using var server = await ServerProcess.StartAsync(data);
        using (var first = await server.PostJsonAsync("/auth/register", new { username = "erin", password = "correct horse battery" }))
        {
            Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        }
        // Even root cannot write an immutable file: the database and its write-ahead log become read-only. Not the
        // -shm file: SQLite maps it into memory, and a write into a mapped page of an immutable file is a SIGBUS
        // that kills the process (which no program can answer with a 503; a read-only file system or a changed
        // file mode leaves existing mappings writable).
        var files = new[] { "tessera.db", "tessera.db-wal" }.Select(f => Path.Combine(data, f)).Where(File.Exists).ToArray();
        await RunAsync("chattr", ["+i", .. files]);
        try
        {
            using (var refused = await server.PostJsonAsync("/auth/register", new { username = "frank", password = "correct horse battery" }))
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
                Assert.True(refused.Headers.RetryAfter is not null, "no Retry-After");
                Assert.Contains("\"message\"", await refused.Content.ReadAsStringAsync());
            }
            using (var health = await server.Http.GetAsync("/healthz"))
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
            }
        }
        finally
        {
            await RunAsync("chattr", ["-i", .. files]);
        }
        using (var again = await server.PostJsonAsync("/auth/register", new { username = "frank", password = "correct horse battery" }))
        {
            Assert.Equal(HttpStatusCode.Created, again.StatusCode);
        }
        using (var health = await server.Http.GetAsync("/healthz"))
        {
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        }
        var (token, _) = await server.LoginAsync("erin", "correct horse battery");
        Assert.False(string.IsNullOrEmpty(token));
    }
}
