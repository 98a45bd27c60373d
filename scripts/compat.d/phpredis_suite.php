<?php
// Runs phpredis's own Redis_Test (tests/RedisTest.php of the phpredis source Debian
// ships with php-redis) against one server, each test method alone, and prints one line
// per test and a closing "N passed, N failed, N skipped" line.
//
// Usage: php phpredis_suite.php TESTS_DIR HOST PORT SKIPFILE
// SKIPFILE: one test method a line, "testName  # reason"; listed tests are not run and
// count as skipped. A test fails when one of its assertions fails or it throws (as in
// phpredis's own TestSuite::run, which also only reports PHP warnings).
define('PHPREDIS_TESTRUN', true);
error_reporting(E_ALL & ~E_DEPRECATED);
ini_set('display_errors', '0');

[$self, $dir, $host, $port, $skipfile] = $argv;
$_SERVER['PHP_SELF'] = "$dir/TestRedis.php";
require_once("$dir/TestSuite.php");
require_once("$dir/RedisTest.php");

$skips = [];
foreach (file($skipfile, FILE_IGNORE_NEW_LINES) as $line) {
    $line = trim($line);
    if ($line === '' || $line[0] === '#') continue;
    $parts = explode('  # ', $line, 2);
    $skips[trim($parts[0])] = $parts[1] ?? '';
}

$passed = $failed = $skipped = 0;
$rc = new ReflectionClass('Redis_Test');
foreach ($rc->getMethods(ReflectionMethod::IS_PUBLIC) as $m) {
    $name = $m->name;
    if (substr($name, 0, 4) !== 'test') continue;
    if (isset($skips[$name])) {
        echo "[skip] $name: {$skips[$name]}\n";
        $skipped++;
        continue;
    }
    $before = count(Redis_Test::$errors);
    $why = '';
    try {
        $t = new Redis_Test($host, (int)$port, null);
        $t->setUp();
        $t->$name();
        if (count(Redis_Test::$errors) !== $before) {
            $why = trim(implode(' ', array_slice(Redis_Test::$errors, $before, 2)));
        }
    } catch (TestSkippedException $e) {
        echo "[skip] $name: skipped by the test itself\n";
        $skipped++;
        continue;
    } catch (Throwable $e) {
        $why = get_class($e) . ': ' . $e->getMessage() . ' at line ' . $e->getLine();
    }
    if ($why === '') {
        echo "[ok] $name\n";
        $passed++;
    } else {
        echo "[err] $name: $why\n";
        $failed++;
    }
}
echo "$passed passed, $failed failed, $skipped skipped\n";
exit($failed === 0 ? 0 : 1);
