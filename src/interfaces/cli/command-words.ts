/** Reading the command words of a command line before commander parses it. */

/** The command words in argv, in order (skipping options and the values of --home and --store). */
export function commandWords(argv: string[]): string[] {
  const words: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    if (a === '--home' || a === '--store') i++;
    else if (!a.startsWith('-')) words.push(a);
  }
  return words;
}

/** The first command word in argv (skipping global options and --home's value). */
export function firstCommand(argv: string[]): string | undefined {
  return commandWords(argv)[0];
}
