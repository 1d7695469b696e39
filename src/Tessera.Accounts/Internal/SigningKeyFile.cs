using System.Security.Cryptography;
using System.Text;

using Tessera.Auth;

namespace Tessera.Accounts.Internal;

/// <summary>
/// The HS256 signing key: from configuration, or generated on first start and kept in the data directory
/// with owner-only permissions (0600, in a directory created 0700), so tokens survive restarts and nodes sharing the
/// directory agree.
/// </summary>
internal static class SigningKeyFile
{
    public const string FileName = "signing-key";

    public static byte[] LoadOrCreate(string dataDirectory, string? configured)
    {
        if (!string.IsNullOrEmpty(configured))
        {
            var bytes = configured.StartsWith("base64:", StringComparison.Ordinal)
                ? Convert.FromBase64String(configured["base64:".Length..])
                : Encoding.UTF8.GetBytes(configured);
            if (bytes.Length < 32)
            {
                throw new InvalidOperationException(
                    $"Tessera:Auth:SigningKey is {bytes.Length} bytes; HS256 needs at least 32 bytes. Set a longer secret, or leave it empty to have one generated.");
            }
            return bytes;
        }
        DataFiles.EnsureDirectory(dataDirectory);
        var path = Path.Combine(dataDirectory, FileName);
        if (!File.Exists(path))
        {
            var key = RandomNumberGenerator.GetBytes(64);
            try
            {
                // Created with owner-only permissions from the start: never readable by others, even briefly.
                var fileOptions = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
                if (!OperatingSystem.IsWindows())
                {
                    fileOptions.UnixCreateMode = DataFiles.OwnerOnlyFile;
                }
                using var stream = new FileStream(path, fileOptions);
                stream.Write(Encoding.ASCII.GetBytes(Convert.ToBase64String(key)));
                stream.Flush(flushToDisk: true);
                return key;
            }
            catch (IOException) when (File.Exists(path))
            {
                // Another node sharing the directory created it first: use theirs.
            }
        }
        // One written by an older version, or copied in by hand, may be readable by others: owner-only from now on.
        DataFiles.RestrictToOwner(path);
        var text = File.ReadAllText(path).Trim();
        var existing = Convert.FromBase64String(text);
        if (existing.Length < 32)
        {
            throw new InvalidOperationException($"The signing key in {path} is shorter than 32 bytes; delete it to have a new one generated.");
        }
        return existing;
    }
}
