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
}
