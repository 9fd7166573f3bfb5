/**
 * The validation library the handlers bundle: `zod/mini`, the tree-shakable form of zod (functions instead of
 * methods, so a bundle keeps only the checks it uses). Unlike classic zod it registers no locale by itself; English
 * is set here, so every message reads as before ("Too big: expected number to be <=100").
 *
 * Import it as a namespace (`import * as z from './zod.js'`): the namespace is only ever read statically, so the
 * bundler keeps just what is used (re-exporting a namespace object would keep all of zod and its locales).
 */
import { en } from 'zod/locales';
import { config } from 'zod/mini';

config(en());

export * from 'zod/mini';
