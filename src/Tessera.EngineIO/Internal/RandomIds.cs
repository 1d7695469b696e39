using System.Buffers.Text;
using System.Security.Cryptography;

namespace Tessera.EngineIO.Internal;

/// <summary>
/// Session and socket ids: 15 random bytes in URL-safe base64 (20 characters), as Node's base64id, which also draws
/// them from a pool of random bytes refilled 4 KB at a time. One call into the system's generator per 273 ids rather
/// than one per id: perf put that call (OpenSSL's RAND_bytes and its bookkeeping) at ~3 % of a handshake's CPU.
/// </summary>
internal static class RandomIds
{
    private const int IdBytes = 15;
    private const int PoolBytes = IdBytes * 273;

    // Per thread: no lock, and a pool is only ever read by the thread that filled it.
    [ThreadStatic] private static byte[]? t_pool;
    [ThreadStatic] private static int t_next;

    public static string New()
    {
        var pool = t_pool;
        if (pool is null || t_next == PoolBytes)
        {
            pool ??= t_pool = new byte[PoolBytes];
            RandomNumberGenerator.Fill(pool);
            t_next = 0;
        }
        var bytes = pool.AsSpan(t_next, IdBytes);
        var id = Base64Url.EncodeToString(bytes);
        // An id handed out does not stay in memory beside the ones still to come.
        bytes.Clear();
        t_next += IdBytes;
        return id;
    }
}
