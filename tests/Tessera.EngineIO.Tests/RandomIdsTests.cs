using System.Collections.Concurrent;
using Tessera.EngineIO.Internal;

namespace Tessera.EngineIO.Tests;

public class RandomIdsTests
{
    [Fact]
    public void Ids_are_20_url_safe_characters_and_distinct_across_pool_refills_and_threads()
    {
        // 2,000 per thread crosses the 273-id pool seven times on each of four threads.
        var ids = new ConcurrentBag<string>();
        Parallel.For(0, 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, _ =>
        {
            for (var i = 0; i < 2000; i++)
            {
                ids.Add(RandomIds.New());
            }
        });
        Assert.Equal(8000, ids.Count);
        Assert.Equal(8000, ids.Distinct(StringComparer.Ordinal).Count());
        Assert.All(ids, id =>
        {
            Assert.Equal(20, id.Length);
            Assert.True(id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'), id);
        });
        // 15 random bytes each: every character position takes many values (a stuck or zeroed pool would not).
        for (var position = 0; position < 20; position++)
        {
            Assert.True(ids.Select(id => id[position]).Distinct().Count() > 32, "position " + position);
        }
    }
}
