"""Print chosen keys of a JSON Lines file as whitespace-separated columns for
gnuplot, one line per input line; missing keys print as NaN."""
import json
import sys


def main():
    path, keys = sys.argv[1], sys.argv[2:]
    print("# " + " ".join(keys))
    with open(path) as f:
        for line in f:
            row = json.loads(line)
            print(" ".join(str(row.get(k, "NaN")) for k in keys))


if __name__ == "__main__":
    main()
