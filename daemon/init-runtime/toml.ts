/** The little TOML init-runtime needs besides smol-toml: quoting, and parse errors that name the file. */
import { parse, TomlError } from 'smol-toml';
import { InvalidConfigFileError } from './errors.ts';

/** A TOML basic string. JSON's escapes (\" \\ \n \uXXXX) are all valid TOML escapes. */
export function tomlString(value: string): string {
  return JSON.stringify(value);
}

/** Parses `text` as TOML; a syntax error becomes an InvalidConfigFileError naming `file` and the line. */
export function parseToml(text: string, file: string): Record<string, unknown> {
  try {
    return parse(text) as Record<string, unknown>;
  } catch (error) {
    if (error instanceof TomlError) {
      const reason = error.message.replace(/^Invalid TOML document: /, '').split('\n')[0];
      throw new InvalidConfigFileError(`${file}:${error.line}:${error.column}: not valid TOML: ${reason}`, { file, line: error.line, cause: error });
    }
    throw error;
  }
}
